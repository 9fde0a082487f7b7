"""Plots and the HTML page of an energy report (matplotlib, imported lazily).

One figure: power over time per agent (top), energy by component per agent as
stacked bars with and without the idle baseline (bottom). The HTML page embeds
the PNG and the per-agent tables, so it is one self-contained file.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from otswarm.energy.report import AgentReport, component_order

COLOURS = {
    "ot": "#4C72B0",
    "policy": "#DD8452",
    "mqtt_tx": "#55A868",
    "mqtt_rx": "#A1D99B",
    "serial": "#8172B3",
    "idle": "#C7C7C7",
}
_EXTRA = ("#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD", "#C44E52")


def _colour(component: str, others: list[str]) -> str:
    if component in COLOURS:
        return COLOURS[component]
    if component not in others:
        others.append(component)
    return _EXTRA[others.index(component) % len(_EXTRA)]


def _stacked(ax, reports: Sequence[AgentReport], components: list[str], title: str) -> None:
    others: list[str] = []
    agents = [r.label for r in reports]
    left = [0.0] * len(reports)
    for component in components:
        widths = [
            next((row.joules for row in r.rows if row.component == component), 0.0) for r in reports
        ]
        ax.barh(agents, widths, left=left, color=_colour(component, others), label=component)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, total in enumerate(left):
        ax.annotate(f" {total:.3g} J", (total, y), va="center", fontsize=8)
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_xlabel("energy (J)")
    ax.invert_yaxis()
    ax.margins(x=0.18)
    ax.grid(axis="x", alpha=0.3)


def render_png(reports: Sequence[AgentReport], path: Path) -> Path:
    """Write the report figure to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = min(r.t_start for r in reports)
    height = 6.5 + 0.25 * max(0, len(reports) - 4)
    fig = plt.figure(figsize=(12, height), constrained_layout=True)
    grid = fig.add_gridspec(2, 2, height_ratios=[1.1, 1])
    power = fig.add_subplot(grid[0, :])
    for r in reports:
        edges = [r.t_start - t0 + t for t in r.trace_t]
        edges.append(edges[-1] + r.bin_s)
        power.stairs(r.trace_w, edges, label=r.label, linewidth=1.4, baseline=None)
    power.set_title("Power over time (energy booked per agent, all spent components)", loc="left")
    power.set_xlabel("time since the run started (s)")
    power.set_ylabel("power (W)")
    power.set_ylim(bottom=0)
    power.grid(alpha=0.3)
    power.legend(fontsize=8, ncol=min(len(reports), 6), loc="best", frameon=False)
    components = sorted({row.component for r in reports for row in r.rows}, key=component_order)
    everything = fig.add_subplot(grid[1, 0])
    _stacked(everything, reports, components, "Energy by component")
    work = [c for c in components if c != "idle"]
    _stacked(fig.add_subplot(grid[1, 1]), reports, work, "Energy by component, without idle")
    handles, labels = everything.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False)
    fig.suptitle("otswarm energy profile", fontsize=14, x=0.01, ha="left")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table_html(report: AgentReport) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(row.component)}</td><td>{row.joules:.4g}</td>"
        f"<td>{row.mean_w:.4g}</td><td>{row.share:.1%}</td></tr>"
        for row in report.rows
    )
    moved = ", ".join(f"{c} {j:.4g} J" for c, j in report.allocation.items())
    measured = "" if report.measured_j is None else f"; meter measured {report.measured_j:.4g} J"
    return (
        f"<h2>{html.escape(report.label)}</h2><p>{report.duration_s:.1f} s observed; "
        f"spent {report.spent_j:.4g} J{measured}; moved by allocation: {moved}</p>"
        "<table><tr><th>component</th><th>joules</th><th>mean W</th><th>share</th></tr>"
        f"{rows}</table>"
    )


def render_html(reports: Sequence[AgentReport], png: Path, path: Path) -> Path:
    """Write a self-contained HTML page (the PNG embedded) to ``path``."""
    image = base64.b64encode(png.read_bytes()).decode("ascii")
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}"
        "table{border-collapse:collapse;margin-bottom:1em}td,th{padding:2px 12px;"
        "border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child"
        "{text-align:left}img{max-width:100%}"
    )
    body = "".join(_table_html(r) for r in reports)
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>otswarm energy profile</title>"
        f"<style>{style}</style></head><body><h1>otswarm energy profile</h1>"
        f"<img alt='power and energy plots' src='data:image/png;base64,{image}'>{body}"
        "</body></html>",
        encoding="utf-8",
    )
    return path
