"""The demo's figures as PNG files (matplotlib, imported here only, headless Agg)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def _mark_drop(ax, report: dict) -> None:
    drop = report.get("harvest_drop")
    if drop:
        ax.axvline(drop["t_s"], color="0.4", linestyle="--", linewidth=1)
        ax.annotate(
            "harvest drop",
            (drop["t_s"], 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize=8,
            color="0.3",
        )


def swarm_figure(report: dict, records: Mapping[str, list[dict]], path: Path) -> Path:
    """2x2 panels over time: alignment spread, energy moved, battery SoC, drift W1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = report["started_at"]
    rounds = report["rounds"]
    times = [r["t"] - t0 for r in rounds]
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), sharex=True, constrained_layout=True)
    (spread_ax, moved_ax), (soc_ax, drift_ax) = axes

    spread_ax.plot(times, [r["alignment_spread"] for r in rounds], color="tab:blue")
    spread_ax.set_ylabel("max pairwise W1 (duty)")
    spread_ax.set_title("Policy alignment: spread of the swarm's action distributions")
    alive_ax = spread_ax.twinx()
    alive_ax.step(times, [r["members_alive"] for r in rounds], where="post", color="tab:gray")
    alive_ax.set_ylabel("members alive", color="tab:gray")
    alive_ax.set_ylim(0, max([r["members_alive"] for r in rounds], default=1) + 1)

    width = 0.8 * report["tick_period_s"]
    moved_ax.bar(times, [r["energy_moved_j"] for r in rounds], width=width, color="tab:green")
    moved_ax.set_ylabel("J moved")
    moved_ax.set_title("Energy allocation: energy moved between agents per round")

    for agent, lines in sorted(records.items()):
        t = [line["t"] - t0 for line in lines]
        soc_ax.plot(t, [line["battery_soc"] for line in lines], linewidth=1, label=agent)
        closed = [
            (line["t"] - t0, line["drift_w1"]) for line in lines if line["drift_w1"] is not None
        ]
        if closed:  # a drift reading exists only when a window closes
            drift_ax.plot(*zip(*closed, strict=True), marker=".", linewidth=1, label=agent)
        stale = [(line["t"] - t0, line["drift_w1"]) for line in lines if line["stale_policy"]]
        if stale:
            drift_ax.scatter(*zip(*stale, strict=True), marker="x", color="black", zorder=3)
    soc_ax.set_ylabel("battery state of charge")
    soc_ax.set_title("Battery of every agent")
    soc_ax.set_xlabel("time since start (s)")
    drift_ax.set_ylabel("W1 recent vs reference")
    drift_ax.set_title("Drift monitor: W1 of each closed window (x: stale-policy event)")
    drift_ax.set_xlabel("time since start (s)")
    drift_ax.set_ylim(bottom=0)
    soc_ax.legend(fontsize=7, ncol=2, loc="lower left")
    for ax in axes.flat:
        _mark_drop(ax, report)
        ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def energy_figure(report: dict, path: Path) -> Path:
    """Stacked horizontal bars: each agent's spent energy by component (J); energy moved
    by allocation (``energy_in``/``energy_out``) is not spent and is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = sorted(report["agents"])
    components = [c for c in report["energy_components"] if not c.startswith("energy_")]
    fig, ax = plt.subplots(figsize=(12, 0.45 * len(agents) + 1.6), constrained_layout=True)
    left = [0.0] * len(agents)
    for component in components:
        widths = [report["agents"][a]["energy_j"].get(component, 0.0) for a in agents]
        ax.barh(agents, widths, left=left, label=component)
        left = [x + w for x, w in zip(left, widths, strict=True)]
    ax.set_xlabel("energy (J)")
    ax.set_title("Where each agent's joules went (ledger, by component)")
    ax.invert_yaxis()
    ax.legend(ncol=len(components), fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
