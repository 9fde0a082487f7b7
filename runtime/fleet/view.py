"""The live terminal view of a swarm: one rich Table row per agent, from a snapshot."""

from __future__ import annotations

from rich.table import Table

from otswarm.energy.report import component_order

_SHOWN = ("ot", "policy", "mqtt_tx", "mqtt_rx", "serial", "idle")  # the spent components


def _number(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def fleet_table(snap: dict, broker: str) -> Table:
    """The table of ``snap`` (:func:`otswarm.fleet.snapshot.snapshot`)."""
    agents = snap["agents"]
    components = sorted(
        {c for a in agents.values() for c in (a["joules"] or {}) if c in _SHOWN},
        key=component_order,
    )
    table = Table(
        title=f"swarm {snap['swarm']} on {broker}: {snap['online']}/{len(agents)} online",
        title_justify="left",
    )
    for name in ("agent", "state", "last seen", "board", "W"):
        table.add_column(name, justify="right" if name == "W" else "left")
    for component in components:
        table.add_column(f"{component} J", justify="right")
    for name in ("battery", "duty", "policy", "align W1", "drift W1", "plans"):
        table.add_column(name, justify="left" if name == "policy" else "right")
    for agent, a in agents.items():
        state = "[green]online[/]" if a["online"] else "[red]offline[/]"
        joules = a["joules"] or {}
        table.add_row(
            agent,
            state,
            _ago(a["seen_ago_s"]),
            a["board"] or "-",
            _number(a["power_w"], ".2f"),
            *(_number(joules.get(c), ".4g") for c in components),
            _number(a["battery_soc"], ".0%"),
            _number(a["duty"], ".2f"),
            (a["policy_sha256"] or "-")[:12],
            _number(a["alignment_w1"], ".3f"),
            _number(a["drift_w1"], ".3f"),
            _number(a["plans_executed"], "d"),
        )
    return table
