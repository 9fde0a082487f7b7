"""Swarm outcomes of each coordination strategy over simulated days.

    otswarm bench outcomes [--boards N] [--days D] [--seeds K] [--quick] [--json FILE]
    python bench/bench_outcomes.py [same options] [--out DIR] [--jobs J]

A closed loop of N boards (default 32) over D simulated days (default 7), every
strategy of ``bench/outcomes/strategies.py`` on the same K seeds (default 5):
the shipped harvest policy through LiteRT, the coordination's own functions, the
simulated MCU's battery and harvester (see ``bench/outcomes``). Prints one JSON
document; writes ``DIR/outcomes.png`` (downtime and work per strategy, every
board's charge under the default strategy) and ``DIR/outcomes.md`` (the table).
``--quick``: 6 boards, one day, two seeds. Runs go to ``--jobs`` worker processes
(default 2, one per core); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.outcomes import metrics, report, scenario, simulate, strategies  # noqa: E402

_WORKER: dict = {}


def _load() -> tuple:
    if not _WORKER:
        import otswarm.ot
        from otswarm.energy import load_profile
        from otswarm.policy import Policy

        otswarm.ot.warmup()  # no run pays for a kernel compile in its OT joules
        _WORKER["policy"] = Policy.load_default("harvest")
        _WORKER["profile"] = load_profile("rpi4")
        _WORKER["tmp"] = Path(tempfile.mkdtemp(prefix="otswarm-outcomes-"))
    return _WORKER["policy"], _WORKER["profile"], _WORKER["tmp"]


def one(task) -> tuple:
    """Run one (scenario, strategy, seed); returns its figures and its charge trace."""
    sc, strategy, seed = task
    policy, profile, tmp = _load()
    run = simulate.run(sc, scenario.draw(sc, seed), strategy, policy, profile, tmp)
    return strategy.name, seed, metrics.figures(run), run.soc, run.wall_s


def parse(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--boards", type=int, help="boards in the swarm (default 32; quick 6)")
    p.add_argument("--days", type=float, help="simulated days (default 7; quick 1)")
    p.add_argument("--seeds", type=int, help="seeds 0..K-1 (default 5; quick 2)")
    p.add_argument("--quick", action="store_true", help="a few boards, one day, two seeds")
    p.add_argument("--out", type=Path, default=Path("runs/outcomes"), help="plot and table here")
    p.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default 2)"
    )
    args = p.parse_args(argv)
    for name in ("boards", "days", "seeds", "jobs"):
        value = getattr(args, name)
        if value is not None and value < (2 if name == "boards" else 1):
            p.error(f"--{name} must be at least {2 if name == 'boards' else 1}, got {value}")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.ERROR)
    sc = scenario.Scenario.quick() if args.quick else scenario.Scenario()
    changes = {k: v for k, v in (("boards", args.boards), ("days", args.days)) if v is not None}
    if "days" in changes and sc.shock_day >= changes["days"]:
        changes["shock_day"] = changes["days"] / 2  # keep the shock inside the run
    sc = replace(sc, **changes)
    seeds = list(range(args.seeds or (2 if args.quick else 5)))
    ran, default = strategies.to_run(), strategies.default_strategy()
    tasks = [(sc, s, seed) for seed in seeds for s in ran]
    began = time.perf_counter()
    per_run, soc = {}, None
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    results = pool.map(one, tasks) if pool else map(one, tasks)
    for done, (name, seed, figures, trace, wall) in enumerate(results, 1):
        per_run[(name, seed)] = figures
        if name == default.name and seed == seeds[0]:
            soc = trace
        print(
            f"[{done}/{len(tasks)}] {name} seed {seed}: downtime {figures['downtime_h']:.0f} h, "
            f"work {figures['work_h']:.0f} duty-h ({wall:.1f} s, "
            f"{time.perf_counter() - began:.0f} s so far)",
            file=sys.stderr,
            flush=True,
        )
    if pool:
        pool.shutdown()
    doc = report.document(sc, seeds, ran, per_run, default, time.perf_counter() - began)
    args.out.mkdir(parents=True, exist_ok=True)
    doc["report"] = {
        "plot": str(report.plot(doc, soc, sc.tick_s, args.out / "outcomes.png")),
        "markdown": str(args.out / "outcomes.md"),
    }
    (args.out / "outcomes.md").write_text(report.markdown(doc), encoding="utf-8")
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
