"""The outcomes document (JSON), its Markdown table and its plot.

The document has one entry per strategy (every figure's mean and 95 % interval
over the seeds, and the per-seed values) and one per comparison (the best non-OT
strategy on the figure the capability exists for, and each OT variant's paired
difference against it). ``table`` is what ``otswarm bench outcomes`` shows.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import stats
from .scenario import Scenario
from .strategies import COMPARISONS, Strategy

TABLE = (  # (figure, column title, decimals)
    ("downtime_h", "downtime h", 0),
    ("worst_downtime_h", "worst board h", 0),
    ("work_h", "work duty-h", 0),
    ("fairness", "fairness", 3),
    ("wasted_wh", "wasted Wh", 0),
    ("reaction_h", "reaction h", 1),
    ("coordination_j", "coordination J", 1),
)


def document(
    scenario: Scenario, seeds, ran, per_run: dict, default: Strategy, elapsed_s: float
) -> dict:
    """The JSON document from the strategies ``ran`` and ``per_run[(name, seed)] = figures``."""
    strategies = {}
    for s in ran:
        rows = [per_run[(s.name, seed)] for seed in seeds]
        keys = rows[0].keys()
        strategies[s.name] = {
            "allocation": s.allocation,
            "alignment": s.alignment,
            "adaptation": s.adaptation,
            "figures": {k: stats.summary([r[k] for r in rows]) for k in keys},
            "per_seed": {k: [r[k] for r in rows] for k in keys},
        }
    return {
        "benchmark": "outcomes",
        "scenario": asdict(scenario),
        "seeds": list(seeds),
        "default_strategy": default.name,
        "strategies": strategies,
        "comparisons": [_compare(c, strategies) for c in COMPARISONS],
        "max_balance_error_wh": max(
            abs(v) for s in strategies.values() for v in s["per_seed"]["balance_error_wh"]
        ),
        "elapsed_s": round(elapsed_s, 1),
        "machine": {"loadavg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()},
        "table": table(strategies),
    }


def _compare(c, strategies: dict) -> dict:
    means = {b.name: strategies[b.name]["figures"][c.figure]["mean"] for b in c.baselines}
    ref = stats.best(means, c.higher_is_better)
    out = {
        "capability": c.capability,
        "figure": c.figure,
        "higher_is_better": c.higher_is_better,
        "best_baseline": ref,
        "ot": {},
    }
    for s in c.ot:
        mine = strategies[s.name]["per_seed"][c.figure]
        entry = {"mean": strategies[s.name]["figures"][c.figure]["mean"]}
        if ref is not None:
            theirs = strategies[ref]["per_seed"][c.figure]
            entry["paired"] = stats.paired(mine, theirs, c.higher_is_better)
        out["ot"][s.name] = entry
    return out


def _cell(summary: dict, decimals: int) -> str:
    if summary["mean"] is None:
        return "n/a"
    if summary["lo"] is None:
        return f"{summary['mean']:.{decimals}f}"
    half = 0.5 * (summary["hi"] - summary["lo"])
    return f"{summary['mean']:.{decimals}f} ± {half:.{decimals}f}"


def table(strategies: dict) -> dict:
    """Columns and rows (mean ± 95 % half-width) for the terminal and the docs."""
    rows = [
        [name] + [_cell(s["figures"][k], d) for k, _, d in TABLE] for name, s in strategies.items()
    ]
    return {
        "title": "otswarm bench outcomes: mean ± 95 % CI over seeds",
        "columns": ["strategy"] + [title for _, title, _ in TABLE],
        "rows": rows,
    }


def markdown(doc: dict) -> str:
    """The strategy table and the comparisons as Markdown."""
    t = doc["table"]
    lines = ["| " + " | ".join(t["columns"]) + " |", "|" + "---|" * len(t["columns"])]
    lines += ["| " + " | ".join(row) + " |" for row in t["rows"]]
    lines += [
        "",
        "| capability | figure | best non-OT | OT variant | paired difference (95 % CI) | "
        "seeds better | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in doc["comparisons"]:
        for name, entry in c["ot"].items():
            p = entry.get("paired")
            if p is None or p["mean"] is None:
                lines.append(
                    f"| {c['capability']} | {c['figure']} | {c['best_baseline']} | "
                    f"{name} | n/a | | |"
                )
                continue
            ci = "" if p["lo"] is None else f" ({p['lo']:+.3g} .. {p['hi']:+.3g})"
            lines.append(
                f"| {c['capability']} | {c['figure']} | {c['best_baseline']} | {name} | "
                f"{p['mean']:+.3g}{ci} | {p['better_seeds']}/{p['n']} | {p['verdict']} |"
            )
    return "\n".join(lines) + "\n"


def plot(doc: dict, soc: np.ndarray, tick_s: float, path: Path) -> Path:
    """Downtime and work per strategy (95 % intervals) and, for the default strategy's
    first seed, every board's charge over the days; written as PNG to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(doc["strategies"])
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.5))
    for ax, key, label in (
        (axes[0], "downtime_h", "downtime, board-hours"),
        (axes[1], "work_h", "work, duty-hours"),
    ):
        f = [doc["strategies"][n]["figures"][key] for n in names]
        mean = np.array([s["mean"] for s in f])
        err = np.array(
            [
                [s["mean"] - s["lo"], s["hi"] - s["mean"]] if s["lo"] is not None else [0.0, 0.0]
                for s in f
            ]
        ).T
        ax.barh(range(len(names)), mean, xerr=err, color="tab:blue", alpha=0.7, capsize=3)
        ax.set_yticks(range(len(names)), names if ax is axes[0] else [""] * len(names))
        ax.invert_yaxis()
        ax.set_xlabel(label + " (mean, 95 % CI)")
    days = np.arange(soc.shape[0]) * tick_s / 86400.0
    axes[2].plot(days, soc, lw=0.7)
    axes[2].set_xlabel("day")
    axes[2].set_ylabel("state of charge")
    axes[2].set_title(f"every board, {doc['default_strategy']}, seed {doc['seeds'][0]}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
