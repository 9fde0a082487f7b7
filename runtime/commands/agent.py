"""``otswarm agent --config FILE.toml``: run one agent until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse

HELP = "run one agent on a board from a TOML config (see docs/agent.example.toml)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="the agent's TOML config file")
    parser.add_argument(
        "--ticks", type=int, default=None, help="stop after this many ticks (default: run forever)"
    )


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from otswarm.agent.build import build_agent
    from otswarm.agent.config import load_config
    from otswarm.agent.jsonlog import configure_json_logging
    from otswarm.errors import StopRequested

    config = load_config(args.config)
    configure_json_logging(config.agent.id, config.agent.log_level, config.agent.log_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    try:
        agent = build_agent(config, stop)
    except StopRequested as exc:
        logging.getLogger(__name__).info("%s", exc, extra={"fields": {"event": "stopped"}})
        return 0
    try:
        agent.run(stop, max_ticks=args.ticks)
    finally:
        agent.close()
    return 0
