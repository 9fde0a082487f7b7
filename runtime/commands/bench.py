"""``otswarm bench TARGET [--json FILE] [TARGET OPTIONS...]``: one benchmark, one core.

A target is a script ``bench/bench_<target>.py`` of the source checkout that
prints one JSON document (``otswarm bench`` alone lists them). The script runs
in a child process with ``NUMBA_NUM_THREADS=1`` and single-threaded BLAS; every
option after the target other than ``--json FILE`` goes to the script (e.g.
``otswarm bench outcomes --quick --json out.json``; ``--script-args "ARGS"`` is
the older spelling); its progress goes to stderr. Its JSON is written to
``--json FILE`` and shown as a table (ratio rows such as those of ``bench ot``,
or the document's own ``table``) or as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from otswarm.errors import OtswarmError

HELP = "run a benchmark against its reference implementation (e.g. `otswarm bench ot`)"
BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
ONE_CORE = {key: "1" for key in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


class BenchError(OtswarmError, RuntimeError):
    """A benchmark could not be found or did not produce its JSON."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", help="which benchmark (omit to list them)")
    parser.add_argument("--json", metavar="FILE", help="also write the JSON document here")
    parser.add_argument(
        "--script-args", default="", metavar="ARGS", help='passed on to the script, e.g. "--quick"'
    )
    parser.add_argument(
        "options", nargs=argparse.REMAINDER, help="the target's own options (e.g. --quick)"
    )


def split_options(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """``(json file, script arguments)``: ``--json`` and ``--script-args`` may also
    follow the target; everything else after it is the script's."""
    own = argparse.ArgumentParser(add_help=False, allow_abbrev=False, prog="otswarm bench")
    own.add_argument("--json", default=args.json)
    own.add_argument("--script-args", default=args.script_args)
    known, rest = own.parse_known_args(args.options or [])
    return known.json, [*shlex.split(known.script_args), *rest]


def targets() -> dict[str, Path]:
    """Benchmark name -> script, from ``bench/bench_*.py``."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(BENCH_DIR.glob("bench_*.py"))}


def run(args: argparse.Namespace) -> int:
    found = targets()
    if args.target not in found:
        names = ", ".join(found) or f"none (no {BENCH_DIR}; benchmarks need a source checkout)"
        if args.target is not None:
            print(f"otswarm bench: unknown target {args.target!r}", file=sys.stderr)
        print(f"benchmark targets: {names}", file=sys.stderr)
        return 2
    json_file, script_args = split_options(args)
    command = [sys.executable, str(found[args.target]), *script_args]
    env = {**os.environ, **ONE_CORE, "PYTHONPATH": str(BENCH_DIR.parent)}
    if {"-h", "--help"} & set(script_args):  # the script's own help, as it prints it
        return subprocess.run(command, cwd=BENCH_DIR.parent, env=env).returncode
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=BENCH_DIR.parent, env=env)
    if proc.returncode != 0:
        raise BenchError(f"bench/{found[args.target].name} exited with status {proc.returncode}")
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise BenchError(f"bench/{found[args.target].name} did not print JSON ({exc})") from exc
    if json_file:
        Path(json_file).write_text(json.dumps(doc, indent=2) + "\n")
    _show(args.target, doc)
    return 0


def _show(target: str, doc: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    if isinstance(doc, dict) and isinstance(doc.get("table"), dict):
        _show_table(doc)
        return
    rows = doc.get("results") if isinstance(doc, dict) else None
    if not rows or not all("ratio" in r for r in rows):
        print(json.dumps(doc, indent=2))
        return
    table = Table(title=f"otswarm bench {target}: ratio = reference time / otswarm time")
    for column in (
        "kernel",
        "n",
        "otswarm ms",
        "reference ms",
        "ratio",
        "otswarm cost",
        "ref cost",
    ):
        table.add_column(column, justify="left" if column == "kernel" else "right")
    for r in rows:
        table.add_row(
            r["kernel"], str(r["n"]), f"{1e3 * r['otswarm_s']:.3f}", f"{1e3 * r['pot_s']:.3f}",
            f"{r['ratio']:.1f}x", f"{r['otswarm_cost']:.9g}", f"{r['pot_cost']:.9g}",
        )  # fmt: skip
    console = Console()
    console.print(table)
    for key, value in doc.items():
        if key != "results":
            console.print(f"{key}: {json.dumps(value)}")


def _show_table(doc: dict) -> None:
    """A document that carries its own ``table`` (title, columns, rows of strings)."""
    from rich.console import Console
    from rich.table import Table

    spec = doc["table"]
    table = Table(title=spec.get("title"))
    for i, column in enumerate(spec["columns"]):
        table.add_column(str(column), justify="left" if i == 0 else "right")
    for row in spec["rows"]:
        table.add_row(*(str(cell) for cell in row))
    console = Console(width=None if sys.stdout.isatty() else 200)  # a pipe: keep the columns
    console.print(table)
    for key in ("elapsed_s", "report"):
        if key in doc:
            console.print(f"{key}: {json.dumps(doc[key])}")
