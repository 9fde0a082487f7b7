"""otswarm runtime: what runs on the board.

Sub-packages: ``ot`` (Numba OT kernels), ``link`` (MQTT and the in-process bus),
and the coordination, policy, energy and agent layers built on them.
"""

__version__ = "0.1.0"
