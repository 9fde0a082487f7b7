"""One JSON-ready snapshot of a swarm (``otswarm fleet --once --json``), and which swarm.

Per agent (units: W, J, s; Unix times)::

    online, announced ("online" / "offline" / null), last_seen, seen_ago_s,
    board, power_w, joules {component: J}, spent_j, battery_soc, duty,
    policy_sha256, alignment_w1, drift_w1, plans_executed, uptime_s,
    telemetry_t, telemetry_age_s

Telemetry figures are null for an agent heard of (state, heartbeat) but whose
telemetry has not arrived; ``spent_j`` is the sum of ``joules`` without the
energy moved by allocation (``energy_in``, ``energy_out``).
"""

from __future__ import annotations

from otswarm.energy.ledger import ALLOCATION_COMPONENTS
from otswarm.fleet.errors import SwarmNotFoundError
from otswarm.fleet.state import AgentView, FleetState

TELEMETRY_FIELDS = ("board", "power_w", "battery_soc", "duty", "alignment_w1", "drift_w1",
                    "plans_executed", "uptime_s")  # fmt: skip


def choose_swarm(requested: str | None, heard: list[str]) -> str:
    """``requested`` when given (it may have no agent yet), else the one swarm heard."""
    if requested is not None:
        return requested
    if not heard:
        raise SwarmNotFoundError("no swarm on the broker: no otswarm agent has announced itself")
    if len(heard) > 1:
        raise SwarmNotFoundError(
            f"{len(heard)} swarms on the broker ({', '.join(heard)}): choose one with --swarm"
        )
    return heard[0]


def agent_json(view: AgentView, now: float) -> dict:
    """The snapshot entry of one agent (see the module docstring)."""
    announced = {True: "online", False: "offline", None: None}[view.announced]
    entry: dict = {
        "online": view.online,
        "announced": announced,
        "last_seen": view.last_seen,
        "seen_ago_s": max(0.0, now - view.last_seen),
    }
    t = view.telemetry
    if t is None:
        entry.update(dict.fromkeys(TELEMETRY_FIELDS))
        entry.update(joules=None, spent_j=None, policy_sha256=None, telemetry_t=None,
                     telemetry_age_s=None)  # fmt: skip
        return entry
    entry.update({name: getattr(t, name) for name in TELEMETRY_FIELDS})
    entry.update(
        joules=dict(t.joules),
        spent_j=sum(j for c, j in t.joules.items() if c not in ALLOCATION_COMPONENTS),
        policy_sha256=t.policy_hash,
        telemetry_t=view.telemetry_t,
        telemetry_age_s=max(0.0, now - view.telemetry_t),
    )
    return entry


def snapshot(state: FleetState, swarm: str) -> dict:
    """``{"swarm", "t", "online", "agents": {id: entry}}`` of ``swarm`` now."""
    now = state.clock()
    views = state.agents(swarm)
    return {
        "swarm": swarm,
        "t": now,
        "online": sum(v.online for v in views.values()),
        "agents": {agent: agent_json(view, now) for agent, view in views.items()},
    }
