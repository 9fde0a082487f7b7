"""The fleet as its operators see it: every agent's state, power and joules, from the
broker alone (``otswarm fleet``, ``otswarm profile --broker``, Prometheus metrics).

Data flows one way: :mod:`~otswarm.fleet.watch` (a read-only MQTT client) ->
:mod:`~otswarm.fleet.state` (decode, check, keep the latest per agent) -> the
views: :mod:`~otswarm.fleet.snapshot` (JSON), :mod:`~otswarm.fleet.view`
(terminal), :mod:`~otswarm.fleet.metrics` (OpenMetrics),
:mod:`~otswarm.fleet.profile` (a ledger of what the telemetry said).

(Only the errors are imported here: every ``otswarm`` command line reads the
fleet options, and the CLI must start fast.)
"""

from otswarm.fleet.errors import FleetError, SwarmNotFoundError

__all__ = ["FleetError", "SwarmNotFoundError"]
