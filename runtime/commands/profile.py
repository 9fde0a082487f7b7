"""``otswarm profile``: the power and energy report of a run, or live board power.

    otswarm profile RUN_DIR_OR_LEDGER... [--out DIR] [--since S] [--until S] [--bin S]
    otswarm profile --live [--board PROFILE] [--duration S] [--period S]

The first form prints a table per agent (joules, mean watts and share by
component) and writes ``energy_report.png``, ``energy_report.html`` and
``energy_report.json`` to ``--out`` (default: the run directory, or the current
one). The second samples this board's meter and prints what it reads.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

HELP = "power and energy report of a run (ledgers) or of this board, live"

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
    parser.add_argument("--duration", type=float, default=5.0, help="--live: seconds to sample")
    parser.add_argument("--period", type=float, help="--live: seconds between samples")


def run(args: argparse.Namespace) -> int:
    if args.live:
        return _live(args)
    if not args.paths:
        print("otswarm profile: give ledger files or run directories, or --live")
        return 2
    from otswarm.energy.report import build_reports, find_ledgers, report_json

    since, until = _absolute_range(find_ledgers(args.paths), args.since, args.until)
    reports = build_reports(args.paths, since=since, until=until, bin_s=args.bin)
    if not reports:
        print("otswarm profile: no energy booked in that range")
        return 1
    _print_tables(reports)
    out = args.out or _default_out(args.paths)
    out.mkdir(parents=True, exist_ok=True)
    (out / "energy_report.json").write_text(json.dumps(report_json(reports), indent=2))
    written = [out / "energy_report.json"]
    if not args.no_plots:
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
