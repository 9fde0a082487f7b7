"""Reference firmware (MicroPython, RP2040/ESP32): protocol logic behind a thin HAL.

``app.FirmwareApp`` is the protocol logic and runs unchanged under CPython
(tests, the simulator) and MicroPython (the board). ``hal.Hal`` is the interface
to the hardware; ``hal_machine.MachineHal`` implements it with ``machine``
(UART, I2C INA219, ADC, PWM); ``main.py`` is the board's entry point.
"""
