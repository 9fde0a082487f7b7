"""``otswarm demo``: the main job on one machine (a swarm of agent processes)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run a swarm of agent processes with simulated MCUs on this machine, then report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agents", type=int, default=8, help="agent processes (default 8)")
    parser.add_argument(
        "--duration", type=float, default=45.0, help="seconds the swarm runs (default 45)"
    )
    parser.add_argument(
        "--broker", help="use this broker (mqtt://host:port) instead of starting one"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)"
    )


def run(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from otswarm.demo.collect import build_report
    from otswarm.demo.html import write_html_report
    from otswarm.demo.orchestrator import DemoSettings, run_demo
    from otswarm.demo.plots import PLOTS_HINT, plots_available
    from otswarm.demo.table import coordination_table, energy_table
    from otswarm.errors import ConfigError

    if args.agents < 1:
        raise ConfigError(f"--agents: need at least 1, got {args.agents}")
    if args.duration <= 0:
        raise ConfigError(f"--duration: must be > 0 s, got {args.duration}")
    if args.broker and not args.broker.startswith(("mqtt://", "mqtts://")):
        raise ConfigError(f"--broker: expected mqtt://host:port, got {args.broker!r}")
    console = Console()
    settings = DemoSettings(
        agents=args.agents, duration_s=args.duration, broker_url=args.broker, out_dir=args.out
    )
    support = shipped_policy_support()
    outcome = run_demo(settings, console, support)
    report, records = build_report(outcome, support)
    (args.out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    console.print(energy_table(report))
    console.print(coordination_table(report))
    summary = report["summary"]
    console.print(
        f"alignment spread {summary['alignment_spread_start']:.3f} -> "
        f"{summary['alignment_spread_end']:.3f} (max pairwise W1, duty units); "
        f"{summary['energy_moved_j']:.1f} J moved, {summary['line_loss_j']:.1f} J of it lost "
        "on the way or not taken in; "
        f"{summary['stale_policy_events']} stale-policy events"
        if summary["alignment_spread_start"] is not None
        else "no round had two agents: nothing to align"
    )
    for event in report["events"]:
        console.print(f"[red]{event}[/red]")
    for check, ok in report["checks"].items():
        why = " (nothing was checked)" if check in report["unchecked"] else ""
        console.print(f"{check}: {'[green]yes[/green]' if ok else f'[red]NO{why}[/red]'}")
    plots = plots_available()
    html = write_html_report(report, records, args.out, plots)
    console.print(f"report: {args.out / 'report.json'} and {html}")
    if not plots:
        console.print(PLOTS_HINT, markup=False)  # "[report]" is no style tag
    return 0 if report["agents"] and not report["unchecked"] else 1


def shipped_policy_support() -> list[float]:
    """The duty levels of the shipped harvest policy (the support of every histogram)."""
    from otswarm.agent.build import load_policy

    return [float(x) for x in load_policy("harvest").action_values]
