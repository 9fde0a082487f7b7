"""The demo's figures as PNG files (matplotlib, imported here only, headless Agg).

matplotlib is the ``report`` extra: without it the demo writes its report with
no figures and says so in one line (:data:`PLOTS_HINT`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

PLOTS_HINT = "no plots: matplotlib is not installed (pip install 'otswarm[report]' adds them)"


def plots_available() -> bool:
    """Whether matplotlib (the ``report`` extra) imports here."""
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "matplotlib":
            raise
        return False
    return True


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


BASELINE = "idle"  # the board's idle draw: two orders of magnitude above the rest


def energy_figure(report: dict, path: Path) -> Path:
    """Write :func:`energy_plot` of ``report`` to ``path`` (PNG)."""
    import matplotlib.pyplot as plt

    fig = energy_plot(report)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def energy_plot(report: dict):
    """Stacked horizontal bars of each agent's spent energy by component (J), two panels:
    everything (the idle baseline dominates), and everything but idle on its own scale
    (mJ, each bar labelled with its total), so OT, policy, radio and serial are visible.
    Energy moved by allocation (``energy_in``/``energy_out``) is not spent and is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = sorted(report["agents"])
    components = [c for c in report["energy_components"] if not c.startswith("energy_")]
    colours = {c: f"C{i}" for i, c in enumerate(components)}
    fig, (all_ax, work_ax) = plt.subplots(
        2, 1, figsize=(12, 0.9 * len(agents) + 3.2), constrained_layout=True
    )
    _stack(all_ax, report, agents, components, colours, 1.0)
    all_ax.set_xlabel(f"energy (J, {report['energy_clock']['name']} clock)")
    all_ax.set_title("Where each agent's joules went (ledger, by component)")
    all_ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    work = [c for c in components if c != BASELINE]
    totals = _stack(work_ax, report, agents, work, colours, 1e3)
    for y, total in enumerate(totals):
        work_ax.annotate(f" {total:.1f} mJ", (total, y), va="center", fontsize=8)
    work_ax.set_xlim(0, 1.15 * max(max(totals, default=0.0), 1e-9))
    work_ax.set_xlabel("energy (mJ)")
    work_ax.set_title(f"The same without the {BASELINE} baseline: what the runtime's work cost")
    work_ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def _stack(ax, report, agents, components, colours, unit_per_j) -> list[float]:
    """Stack ``components`` per agent on ``ax`` (J x ``unit_per_j``); returns the totals."""
    left = [0.0] * len(agents)
    for component in components:
        widths = [report["agents"][a]["energy_j"].get(component, 0.0) * unit_per_j for a in agents]
        ax.barh(agents, widths, left=left, label=component, color=colours[component])
        left = [x + w for x, w in zip(left, widths, strict=True)]
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    return left
