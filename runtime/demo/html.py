"""The human report: ``report.html`` with the summary, the per-agent table and the plots."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path

from otswarm.demo.plots import PLOTS_HINT, energy_figure, swarm_figure

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.bad { color: #b00; } .ok { color: #070; } img { max-width: 100%; }
"""


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return escape(str(value))


def _summary(report: dict) -> str:
    s = report["summary"]
    checks = report["checks"]
    items = [
        f"{len(report['agents'])} agents over {report['duration_s']:.0f} s, "
        f"{len(report['rounds'])} rounds, broker {escape(report['broker'])}",
        f"alignment spread (max pairwise W1, duty units): {_fmt(s['alignment_spread_start'])} "
        f"in the first complete round, {_fmt(s['alignment_spread_end'])} at the end "
        "(median of the last 5 rounds)",
        f"energy moved by allocation: {_fmt(s['energy_moved_j'])} J; "
        f"stale-policy events: {s['stale_policy_events']}",
    ]
    for name, ok in checks.items():
        css = "ok" if ok else "bad"
        items.append(f'<span class="{css}">{escape(name)}: {"yes" if ok else "NO"}</span>')
    items.append(f"energy clock: {escape(report['energy_clock']['meaning'])}")
    items += [f'<span class="bad">{escape(event)}</span>' for event in report["events"]]
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _agents(report: dict) -> str:
    components = report["energy_components"]
    head = ["agent", *(f"{c} J" for c in components), "total J", "W1 first", "W1 end"]
    head += ["received J", "given J", "plans", "drift events", "group head", "ended"]
    rows = []
    for agent_id, a in sorted(report["agents"].items()):
        cells = [agent_id, *(a["energy_j"].get(c) for c in components), a["energy_total_j"]]
        cells += [a["alignment"]["w1_to_barycenter_first"], a["alignment"]["w1_to_barycenter_end"]]
        cells += [a["allocation"]["received_j"], a["allocation"]["given_j"]]
        cells += [a["allocation"]["plans_executed"], a["drift"]["stale_policy_events"]]
        cells += [a["group"]["head"]]
        cells += [a["process"]["ended"]]
        rows.append("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in cells) + "</tr>")
    header = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"
    return f"<table>{header}{''.join(rows)}</table>"


def _figures(report: dict, records: Mapping[str, list[dict]], out_dir: Path, plots: bool) -> str:
    if not plots:
        return f"<p>{escape(PLOTS_HINT)}</p>"
    swarm_figure(report, records, out_dir / "swarm.png")
    energy_figure(report, out_dir / "energy.png")
    return (
        "<h2>The swarm over time</h2><img src='swarm.png' alt='swarm figures'>"
        "<h2>Energy by component</h2><img src='energy.png' alt='energy by component'>"
    )


def write_html_report(
    report: dict, records: Mapping[str, list[dict]], out_dir: Path, plots: bool = True
) -> Path:
    """Write ``report.html`` into ``out_dir``, with ``swarm.png`` and ``energy.png``
    when ``plots`` (matplotlib installed), else with a line saying how to get them."""
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>otswarm demo report</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>otswarm demo</h1>"
        f"{_summary(report)}"
        f"{_figures(report, records, out_dir, plots)}"
        f"<h2>Per agent</h2>{_agents(report)}"
        "<p>Figures: <code>report.json</code> in this folder; each agent's ticks in "
        "<code>AGENT/run.jsonl</code>, its log in <code>AGENT/agent.log</code>.</p>"
        "</body></html>"
    )
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
