"""The ``otswarm`` command line: one entry point, one module per sub-command."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from otswarm import __version__
from otswarm.errors import PROJECT_ERRORS

# sub-command -> module under otswarm.commands (see runtime/commands/__init__.py)
COMMANDS = {
    "demo": "otswarm.commands.demo",
    "agent": "otswarm.commands.agent",
    "doctor": "otswarm.commands.doctor",
    "broker": "otswarm.commands.broker",
    "profile": "otswarm.commands.profile",
    "train": "otswarm.commands.train",
    "export": "otswarm.commands.export",
    "bench": "otswarm.commands.bench",
    "keys": "otswarm.commands.keys",
    "fleet": "otswarm.commands.fleet",
    "rollout": "otswarm.commands.rollout",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otswarm",
        description="Energy-aware runtime for edge-board swarms coordinated by optimal transport.",
    )
    parser.add_argument("--version", action="version", version=f"otswarm {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except PROJECT_ERRORS as exc:
        print(f"otswarm {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
