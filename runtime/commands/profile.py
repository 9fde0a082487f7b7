"""``otswarm profile``: the power and energy report of a run, or live board power.

    otswarm profile RUN_DIR_OR_LEDGER... [--out DIR] [--since S] [--until S] [--bin S]
    otswarm profile --live [--board PROFILE] [--duration S] [--period S]
    otswarm profile --broker URL [--swarm S] --duration S --out DIR

The first form prints a table per agent (joules, mean watts and share by
component) and writes ``energy_report.png``, ``energy_report.html`` and
``energy_report.json`` to ``--out`` (default: the run directory, or the current
one). The second samples this board's meter and prints what it reads. The
third gathers every agent's telemetry from the broker for ``--duration``
seconds, writes it as a ledger (``DIR/fleet-<swarm>.ledger.sqlite``, see
:mod:`otswarm.fleet.profile`) and makes the same report from it, with the
seconds each agent was observed.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

HELP = "power and energy report of a run (ledgers), of this board live, or of a swarm (broker)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", help="ledger files or run directories")
    parser.add_argument("--out", type=Path, help="where to write the report files")
    parser.add_argument(
        "--since",
        type=float,
        help="start of the range: Unix time, or seconds into the run if < 1e9",
    )
    parser.add_argument("--until", type=float, help="end of the range, as --since")
    parser.add_argument("--bin", type=float, help="width of the power-over-time bins (s)")
    parser.add_argument("--no-plots", action="store_true", help="table and JSON only")
    parser.add_argument("--live", action="store_true", help="sample this board's meter")
    parser.add_argument(
        "--board", help="profile id or file for --live (default: this board's, as the agent's)"
    )
    parser.add_argument(
        "--duration", type=float, default=5.0, help="--live, --broker: seconds to sample"
    )
    parser.add_argument("--period", type=float, help="--live: seconds between samples")
    from otswarm.fleet.options import add_broker_arguments

    add_broker_arguments(parser, required=False)


def run(args: argparse.Namespace) -> int:
    if args.live:
        return _live(args)
    if args.broker:
        if args.paths:
            print("otswarm profile: give ledger paths or --broker, not both")
            return 2
        return _fleet(args)
    if not args.paths:
        print("otswarm profile: give ledger files or run directories, --live or --broker")
        return 2
    from otswarm.energy.report import build_reports, find_ledgers

    since, until = _absolute_range(find_ledgers(args.paths), args.since, args.until)
    reports = build_reports(args.paths, since=since, until=until, bin_s=args.bin)
    if not reports:
        print("otswarm profile: no energy booked in that range")
        return 1
    _print_tables(reports)
    return _write_report(reports, args.out or _default_out(args.paths), args.no_plots)


def _fleet(args: argparse.Namespace) -> int:
    """Gather the swarm's telemetry for ``--duration`` s; report it like ledgers."""
    from otswarm.energy.report import build_reports
    from otswarm.fleet.options import open_watcher
    from otswarm.fleet.profile import TelemetryRecorder, write_ledger
    from otswarm.fleet.snapshot import choose_swarm

    recorder = TelemetryRecorder(args.swarm)
    began = time.time()
    watcher, state = open_watcher(args, recorder)
    try:
        swarm = choose_swarm(args.swarm, state.swarms())
        time.sleep(max(0.0, args.duration - (time.time() - began)))
    finally:
        watcher.close()
    window_s = time.time() - began
    series = recorder.of(swarm)
    out = args.out or Path.cwd()
    out.mkdir(parents=True, exist_ok=True)
    ledger = write_ledger(series, out, swarm)
    reports = build_reports([ledger], bin_s=args.bin)
    observed = {agent: s.observed_s for agent, s in sorted(series.items())}
    print(f"swarm {swarm}: {len(series)} agents heard in {window_s:.1f} s; ledger {ledger}")
    for agent, seconds in observed.items():
        print(f"  {agent}: observed {seconds:.1f} s of {window_s:.1f} s")
    if not reports:
        print("otswarm profile: no agent sent two telemetry messages in that time")
        return 1
    _print_tables(reports)
    extra = {"swarm": swarm, "broker": args.broker, "window_s": window_s}
    return _write_report(reports, out, args.no_plots, extra, observed)


def _write_report(reports, out: Path, no_plots: bool, extra=None, observed=None) -> int:
    """``energy_report.json`` (with ``extra`` at the top and each agent's ``observed_s``
    when given), and unless ``no_plots`` the PNG and HTML report, in ``out``."""
    from otswarm.energy.report import report_json

    out.mkdir(parents=True, exist_ok=True)
    document = {**(extra or {}), **report_json(reports)}
    for agent, seconds in (observed or {}).items():
        if agent in document["agents"]:
            document["agents"][agent]["observed_s"] = seconds
    (out / "energy_report.json").write_text(json.dumps(document, indent=2))
    written = [out / "energy_report.json"]
    if not no_plots:
        from otswarm.energy.plots import render_html, render_png

        png = render_png(reports, out / "energy_report.png")
        written += [png, render_html(reports, png, out / "energy_report.html")]
    print("report: " + ", ".join(str(p) for p in written))
    return 0


def _absolute_range(ledgers, since: float | None, until: float | None) -> tuple:
    """Turn run-relative seconds (< 1e9) into Unix times using the earliest booking."""
    if all(v is None or v >= 1e9 for v in (since, until)):
        return since, until
    from otswarm.energy.store import LedgerReader

    starts = []
    for path in ledgers:
        with LedgerReader(path) as reader:
            span = reader.time_span()
            if span:
                starts.append(span[0])
    t0 = min(starts, default=0.0)
    return tuple(None if v is None else (v + t0 if v < 1e9 else v) for v in (since, until))


def _default_out(paths: list[str]) -> Path:
    first = Path(paths[0])
    return first if len(paths) == 1 and first.is_dir() else Path.cwd()


def _print_tables(reports) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for report in reports:
        measured = "" if report.measured_j is None else f", meter {report.measured_j:.4g} J"
        table = Table(
            title=f"agent {report.label}: {report.spent_j:.4g} J in {report.duration_s:.1f} s"
            f"{measured}",
            title_justify="left",
        )
        table.add_column("component")
        table.add_column("joules", justify="right")
        table.add_column("mean W", justify="right")
        table.add_column("share", justify="right")
        for row in report.rows:
            table.add_row(
                row.component, f"{row.joules:.4g}", f"{row.mean_w:.4g}", f"{row.share:.1%}"
            )
        if report.unattributed_j is not None:
            table.add_row(
                "[dim]not attributed (meter - booked)[/]",
                f"[dim]{report.unattributed_j:.4g}[/]",
                "",
                "",
            )
        for component, joules in report.allocation.items():
            table.add_row(f"[dim]{component} (allocation)[/]", f"[dim]{joules:.4g}[/]", "", "")
        console.print(table)


def _live(args: argparse.Namespace) -> int:
    from rich.console import Console

    from otswarm.energy import discover_meter, load_profile
    from otswarm.energy.board import default_profile

    profile = load_profile(args.board or default_profile())
    meter = discover_meter(profile)
    period = args.period or meter.sample_period_s
    console = Console()
    console.print(f"board {profile.name}: meter {meter.source}, every {period:g} s")
    first = None
    with meter:
        end = time.monotonic() + args.duration
        while time.monotonic() < end:
            time.sleep(period)
            sample = meter.read()
            first = first or sample
            rails = "  ".join(f"{k} {w:.3f} W" for k, w in sample.rails.items())
            console.print(f"{sample.watts:8.3f} W  {sample.joules:10.3f} J  {rails}")
    if first is not None and sample.t > first.t:
        mean = (sample.joules - first.joules) / (sample.t - first.t)
        console.print(f"mean {mean:.3f} W over {sample.t - first.t:.1f} s")
    return 0
