"""The fleet-wide profile: telemetry gathered from the broker, turned into a ledger file
that the energy report (:mod:`otswarm.energy.report`) reads like any other.

Each agent's telemetry carries its joules per component since it started,
``J_k(c)`` at sender time ``t_k``. Consecutive messages give one ledger entry
per component, ``J_k(c) - J_{k-1}(c)`` over ``[t_{k-1}, t_k]``. A message whose
uptime or joules went down comes from a restarted agent: its own totals are
the new run's, booked over ``[max(t_{k-1}, t_k - uptime_k), t_k]``. The first
message heard (often the retained one) is only the baseline, so an agent is
*observed* from its first to its last message: ``observed_s`` is the sum of
the spans its entries cover (0 for an agent heard once, e.g. a dead one whose
retained telemetry is all there is). The retained baseline was sent about one
telemetry period (plus a tick) before the window opened, so ``observed_s`` may
exceed the window by that much; nothing is interpolated.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from otswarm.energy.ledger import LEDGER_SUFFIX
from otswarm.energy.store import open_for_writing
from otswarm.summaries import Telemetry


@dataclass
class AgentSeries:
    """The telemetry of one agent in arrival order: ``(t, message)`` with ``t`` in Unix s."""

    agent: str
    board: str = ""
    points: list[tuple[float, Telemetry]] = field(default_factory=list)

    def entries(self) -> list[tuple[str, float, float, float]]:
        """``(component, t0, t1, joules)`` per component between consecutive messages."""
        rows = []
        for (t_prev, prev), (t, now) in pairwise(self.points):
            restarted = now.uptime_s < prev.uptime_s or any(
                j < prev.joules.get(c, 0.0) for c, j in now.joules.items()
            )
            if restarted:
                t0, base = max(t_prev, t - now.uptime_s), {}
            else:
                t0, base = t_prev, prev.joules
            rows += [(c, t0, t, j - base.get(c, 0.0)) for c, j in now.joules.items()]
        return rows

    @property
    def observed_s(self) -> float:
        spans = {(t0, t1) for _, t0, t1, _ in self.entries()}
        return sum(t1 - t0 for t0, t1 in spans)


class TelemetryRecorder:
    """A :class:`~otswarm.fleet.state.FleetState` listener keeping the telemetry of
    ``swarm`` (thread-safe; add it with ``state.add_listener(recorder)``)."""

    def __init__(self, swarm: str | None = None) -> None:
        self.swarm = swarm
        self.series: dict[str, dict[str, AgentSeries]] = {}
        self._lock = threading.Lock()

    def __call__(self, swarm: str, agent: str, t: float, message: Telemetry) -> None:
        if self.swarm is not None and swarm != self.swarm:
            return
        with self._lock:
            series = self.series.setdefault(swarm, {}).setdefault(agent, AgentSeries(agent))
            if series.points and t <= series.points[-1][0]:
                return  # the retained copy of one already recorded, or out of order
            series.board = message.board or series.board
            series.points.append((t, message))

    def of(self, swarm: str) -> dict[str, AgentSeries]:
        with self._lock:
            return dict(self.series.get(swarm, {}))


def write_ledger(series: dict[str, AgentSeries], folder: Path, swarm: str) -> Path:
    """Write every agent's entries to ``folder/fleet-<swarm>.ledger.sqlite`` (replacing
    one of an earlier run) and return its path; board profiles go to its metadata."""
    path = Path(folder) / f"fleet-{swarm}{LEDGER_SUFFIX}"
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    conn = open_for_writing(path)
    try:
        conn.execute("BEGIN")
        for agent, s in series.items():
            conn.executemany(
                "INSERT INTO entries VALUES (?,?,?,?,?,0,0,1)",
                [(agent, c, t0, t1, j) for c, t0, t1, j in s.entries()],
            )
            if s.board:
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"profile.{agent}", s.board)
                )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return path
