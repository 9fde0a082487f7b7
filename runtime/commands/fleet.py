"""``otswarm fleet``: every agent of a swarm, live, from the broker alone.

    otswarm fleet --broker URL [--swarm S] [--once [--json]] [--metrics-port P]
                  [--duration S] [--hmac-key-file F] [TLS and credential options]

The live view (rich) refreshes every second until Ctrl-C (or ``--duration``);
``--once`` prints one snapshot (``--json``: ``{"swarm", "broker", "t",
"online", "agents": {id: ...}}``, see :mod:`otswarm.fleet.snapshot`) and exits;
``--metrics-port P`` also serves OpenMetrics on http://127.0.0.1:P/metrics.
Without ``--swarm`` the one swarm on the broker is watched (an error names
them when there are several, or says there is none). Guide: docs/fleet.md.
"""

from __future__ import annotations

import argparse
import json
import time

HELP = "live view of a swarm's agents, power and joules; JSON snapshot; Prometheus metrics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from otswarm.fleet.options import add_broker_arguments

    add_broker_arguments(parser, required=True)
    parser.add_argument("--once", action="store_true", help="print one snapshot and exit")
    parser.add_argument("--json", action="store_true", help="with --once: JSON, for scripts")
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="P",
        help="serve OpenMetrics on http://127.0.0.1:P/metrics",
    )
    parser.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help="stop the live view after S seconds (default: until Ctrl-C)",
    )
    parser.add_argument(
        "--refresh",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between refreshes of the live view",
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from otswarm.fleet.errors import FleetError
    from otswarm.fleet.options import open_watcher
    from otswarm.fleet.snapshot import choose_swarm, snapshot
    from otswarm.fleet.view import fleet_table

    if args.json and not args.once:
        raise FleetError("--json needs --once (the live view is for people)")
    if args.once and args.metrics_port is not None:
        raise FleetError("--metrics-port serves a running view: leave out --once")
    watcher, state = open_watcher(args)
    try:
        swarm = choose_swarm(args.swarm, state.swarms())
        if args.once:
            snap = {**snapshot(state, swarm), "broker": args.broker}
            if args.json:
                print(json.dumps(snap, indent=2, allow_nan=False))
            else:
                Console().print(fleet_table(snap, args.broker))
            return 0
        server = None
        if args.metrics_port is not None:
            from otswarm.fleet.metrics import serve_metrics

            server = serve_metrics(state, swarm, args.metrics_port)
            print(f"metrics on http://127.0.0.1:{server.server_port}/metrics", flush=True)
        try:
            _live(state, swarm, args)
        finally:
            if server is not None:
                server.shutdown()
        return 0
    finally:
        watcher.close()


def _live(state, swarm: str, args: argparse.Namespace) -> None:
    from rich.live import Live

    from otswarm.fleet.snapshot import snapshot
    from otswarm.fleet.view import fleet_table

    end = None if args.duration is None else time.monotonic() + args.duration
    with Live(fleet_table(snapshot(state, swarm), args.broker), auto_refresh=False) as live:
        while end is None or time.monotonic() < end:
            time.sleep(args.refresh)
            live.update(fleet_table(snapshot(state, swarm), args.broker), refresh=True)
