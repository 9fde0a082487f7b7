"""The tables the demo prints at the end (rich): energy, then coordination, per agent."""

from __future__ import annotations

import signal

from rich.table import Table

RADIO = ("mqtt_tx", "mqtt_rx")


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def energy_table(report: dict) -> Table:
    """Joules each agent spent, by ledger component, and what allocation moved."""
    clock = report["energy_clock"]
    title = (
        f"energy by component (J on the {clock['name']} clock, "
        f"{clock['board_s_per_wall_s']:g} x wall; from each agent's ledger)"
    )
    table = Table(title=title, title_style="bold")
    for name in ("agent", "ot", "policy", "radio", "serial", "idle", "spent", "in", "out"):
        table.add_column(name, justify="left" if name == "agent" else "right", no_wrap=True)
    for agent_id, agent in sorted(report["agents"].items()):
        e = agent["energy_j"]
        table.add_row(
            agent_id,
            _num(e.get("ot", 0.0), 3),
            _num(e.get("policy", 0.0), 3),
            _num(sum(e.get(c, 0.0) for c in RADIO), 3),
            _num(e.get("serial", 0.0), 3),
            _num(e.get("idle", 0.0), 1),
            _num(agent["energy_total_j"], 1),
            _num(e.get("energy_in", 0.0), 0),
            _num(e.get("energy_out", 0.0), 0),
        )
    return table


def _process(process: dict) -> str:
    """How the agent's process ended, in a few words (the report's events say more)."""
    code = process["returncode"]
    if code == 0:
        return "clean stop"
    if code is None:
        return "[red]running[/red]"
    if code < 0:
        return f"[red]killed ({signal.Signals(-code).name})[/red]"
    return f"[red]exit {code}[/red]"


def coordination_table(report: dict) -> Table:
    """Alignment, allocation and drift figures per agent, and how its process ended."""
    table = Table(title="coordination per agent", title_style="bold")
    table.add_column("agent", no_wrap=True)
    table.add_column("W1 to bary\nfirst→end", justify="right", no_wrap=True)
    table.add_column("recv J", justify="right")
    table.add_column("given J", justify="right")
    table.add_column("plans", justify="right")
    table.add_column("drift\nevents", justify="right")
    table.add_column("process")
    for agent_id, agent in sorted(report["agents"].items()):
        align = agent["alignment"]
        first, last = align["w1_to_barycenter_first"], align["w1_to_barycenter_end"]
        table.add_row(
            agent_id,
            "-" if first is None else f"{first:.3f}→{last:.3f}",
            _num(agent["allocation"]["received_j"], 1),
            _num(agent["allocation"]["given_j"], 1),
            str(agent["allocation"]["plans_executed"]),
            str(agent["drift"]["stale_policy_events"]),
            _process(agent["process"]),
        )
    return table
