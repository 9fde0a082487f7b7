"""``python -m otswarm.firmware_bridge.simulator --pty``: a simulated MCU on a pseudo-terminal.

Prints the device path to open on one line of stdout, then serves until killed.
Every :class:`~otswarm.firmware_bridge.simulator.config.SimulatorConfig` field is a flag
(``--seed 3 --time-acceleration 1440 --harvest-drop-at-s 43200 ...``).
"""

import argparse
import logging
import sys

from .config import add_config_arguments, config_from_args
from .pty_server import serve_until_signal


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m otswarm.firmware_bridge.simulator", description=__doc__
    )
    parser.add_argument("--pty", action="store_true", required=True, help="serve on a new pty pair")
    parser.add_argument("--link", help="also publish the pty under this symlink path")
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started the simulator dies",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    serve_until_signal(config_from_args(args), args.link, args.exit_with_parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
