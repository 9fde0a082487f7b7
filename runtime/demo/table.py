"""The per-agent table the demo prints at the end (rich)."""

from __future__ import annotations

from rich.table import Table


def _j(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def agents_table(report: dict) -> Table:
    """One row per agent: energy by component (J), alignment, allocation, drift, how it ended."""
    components = report["energy_components"]
    table = Table(title="otswarm demo: per-agent figures", title_style="bold", show_lines=False)
    table.add_column("agent", style="bold")
    for name in components:
        table.add_column(f"{name} J", justify="right")
    table.add_column("total J", justify="right", style="bold")
    table.add_column("W1 to bary first→last", justify="right")
    table.add_column("recv J", justify="right")
    table.add_column("given J", justify="right")
    table.add_column("plans", justify="right")
    table.add_column("drift ev.", justify="right")
    table.add_column("ended")
    for agent_id, agent in sorted(report["agents"].items()):
        energy = agent["energy_j"]
        align = agent["alignment"]
        first, last = align["w1_to_barycenter_first"], align["w1_to_barycenter_last"]
        ended = agent["process"]["ended"]
        table.add_row(
            agent_id,
            *(_j(energy.get(name)) for name in components),
            _j(agent["energy_total_j"]),
            "-" if first is None else f"{first:.3f}→{last:.3f}",
            _j(agent["allocation"]["received_j"]),
            _j(agent["allocation"]["given_j"]),
            str(agent["allocation"]["plans_executed"]),
            str(agent["drift"]["stale_policy_events"]),
            ended if "cleanly" in ended else f"[red]{ended}[/red]",
        )
    return table
