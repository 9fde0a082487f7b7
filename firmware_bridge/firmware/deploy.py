"""Lay out the files the board needs: ``python -m otswarm.firmware_bridge.firmware.deploy DIR``.

Copies the shared protocol modules and the firmware into ``DIR`` as the board's
filesystem wants them (``DIR/firmware_bridge/...`` and ``DIR/main.py``); upload
the tree with ``mpremote cp -r DIR/* :`` (or any MicroPython file tool).
CPython only.
"""

import shutil
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
# the MicroPython-compatible modules, relative to firmware_bridge/
BOARD_FILES = (
    "__init__.py",
    "errors.py",
    "cobs.py",
    "crc.py",
    "frames.py",
    "packetizer.py",
    "protocol.py",
    "firmware/__init__.py",
    "firmware/app.py",
    "firmware/hal.py",
    "firmware/hal_machine.py",
    "firmware/ina219.py",
)


def deploy(target):
    """Write the board's file tree under ``target``; return the paths written."""
    target = Path(target)
    written = []
    for name in BOARD_FILES:
        dest = target / "firmware_bridge" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGE / name, dest)
        written.append(dest)
    main = target / "main.py"
    shutil.copyfile(PACKAGE / "firmware" / "main.py", main)
    written.append(main)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m otswarm.firmware_bridge.firmware.deploy DIR")
    for path in deploy(sys.argv[1]):
        print(path)
