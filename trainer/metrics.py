"""Training metrics: one row per iteration, written as CSV and JSON, plus plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path


class MetricsLog:
    """Append rows; ``save()`` writes ``metrics.csv``, ``metrics.json`` and ``training.png``."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.rows: list[dict] = []

    def add(self, row: dict) -> None:
        self.rows.append({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()})

    def save(self, summary: dict) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.rows:
            with open(self.out_dir / "metrics.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(self.rows[0]))
                writer.writeheader()
                writer.writerows(self.rows)
        (self.out_dir / "metrics.json").write_text(
            json.dumps({"summary": summary, "iterations": self.rows}, indent=1) + "\n"
        )
        self._plot()

    def _plot(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if not self.rows:
            return
        x = [r["env_steps"] for r in self.rows]
        panels = ("mean_return", "policy_loss", "value_loss", "entropy", "w1_align", "lr")
        fig, axes = plt.subplots(2, 3, figsize=(12, 6), constrained_layout=True)
        for ax, key in zip(axes.flat, panels, strict=True):
            ax.plot(x, [r[key] for r in self.rows])
            ax.set_title(key)
            ax.set_xlabel("env steps")
        fig.savefig(self.out_dir / "training.png", dpi=80)
        plt.close(fig)
