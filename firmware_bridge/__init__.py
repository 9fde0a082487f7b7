"""Host side of the serial link to the power-sensing microcontroller."""
