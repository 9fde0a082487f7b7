"""The swarm's figures as Prometheus/OpenMetrics text (``otswarm fleet --metrics-port P``).

A custom ``prometheus_client`` collector: every scrape reads the fleet state
afresh, so the figures are those of the last telemetry of each agent (a pull
model, like node_exporter; nothing is cached between scrapes). Series, with
labels ``swarm`` and ``agent``:

============================================ ======= ======================================
``otswarm_agent_up``                         gauge   1 online (announced and heard), else 0
``otswarm_energy_joules_total{component}``   counter J booked per ledger component since
                                                     the agent started (resets on restart)
``otswarm_power_watts``                      gauge   mean spent power over the last period
``otswarm_battery_soc``                      gauge   state of charge, 0..1
``otswarm_duty``                             gauge   the duty level, 0..1
``otswarm_alignment_w1``                     gauge   W1 to the barycenter (duty units)
``otswarm_drift_w1``                         gauge   last drift distance
``otswarm_plans_executed_total``             counter allocation plans executed
``otswarm_uptime_seconds``                   gauge   seconds since the agent started
``otswarm_last_seen_timestamp_seconds``      gauge   when it was last heard (Unix s)
``otswarm_policy_info{policy_sha256,board}`` gauge   1, the policy and board it runs
============================================ ======= ======================================

A figure an agent does not know (no battery, no neighbour yet) has no sample.
The server listens on 127.0.0.1 only: put a reverse proxy (or Prometheus on
the same machine) in front of it.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from otswarm.fleet.state import FleetState

LABELS = ["swarm", "agent"]
_GAUGES = (  # (name, help, telemetry attribute)
    ("otswarm_power_watts", "Mean spent power over the last telemetry period (W)", "power_w"),
    ("otswarm_battery_soc", "Battery state of charge (0..1)", "battery_soc"),
    ("otswarm_duty", "Duty level sent to the microcontroller (0..1)", "duty"),
    ("otswarm_alignment_w1", "W1 from the consensus state to the barycenter", "alignment_w1"),
    ("otswarm_drift_w1", "Last drift distance (W1, recent vs reference window)", "drift_w1"),
    ("otswarm_uptime_seconds", "Seconds since the agent started", "uptime_s"),
)


class FleetCollector(Collector):
    """Collects the figures of ``swarm`` (every swarm heard when None) from ``state``."""

    def __init__(self, state: FleetState, swarm: str | None = None) -> None:
        self.state = state
        self.swarm = swarm

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("otswarm_agent_up", "1 when the agent is online", labels=LABELS)
        seen = GaugeMetricFamily(
            "otswarm_last_seen_timestamp_seconds", "When the agent was last heard", labels=LABELS
        )
        energy = CounterMetricFamily(
            "otswarm_energy_joules",
            "Joules booked per ledger component since the agent started",
            labels=[*LABELS, "component"],
        )
        plans = CounterMetricFamily(
            "otswarm_plans_executed", "Allocation plans executed since start", labels=LABELS
        )
        info = GaugeMetricFamily(
            "otswarm_policy_info",
            "The policy (SHA-256 of the model) and board profile of the agent",
            labels=[*LABELS, "policy_sha256", "board"],
        )
        gauges = [(GaugeMetricFamily(n, h, labels=LABELS), attr) for n, h, attr in _GAUGES]
        swarms = [self.swarm] if self.swarm else self.state.swarms()
        for swarm in swarms:
            for agent, view in self.state.agents(swarm).items():
                labels = [swarm, agent]
                up.add_metric(labels, 1.0 if view.online else 0.0)
                seen.add_metric(labels, view.last_seen)
                t = view.telemetry
                if t is None:
                    continue
                for component, joules in sorted(t.joules.items()):
                    energy.add_metric([*labels, component], joules)
                plans.add_metric(labels, t.plans_executed)
                info.add_metric([*labels, t.policy_hash, t.board], 1.0)
                for family, attr in gauges:
                    value = getattr(t, attr)
                    if value is not None:
                        family.add_metric(labels, value)
        yield from (up, seen, energy, plans, info, *(family for family, _ in gauges))


def serve_metrics(state: FleetState, swarm: str | None, port: int):
    """Serve ``/metrics`` on 127.0.0.1:``port`` from a background thread; returns the
    HTTP server (``shutdown()`` it to stop). Port 0 picks a free one
    (``server.server_port``)."""
    from prometheus_client import start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(state, swarm))
    server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    return server
