"""The agent's run record: one JSON line per tick of what it sensed, decided and moved.

The ledger says how many joules went where; the run record says what the agent
did with them, so ``otswarm demo`` (and a person with ``jq``) can rebuild the
swarm's story afterwards. Each line is a :class:`TickRecord` as a JSON object;
the file is line-buffered so a killed agent loses at most the line it was writing.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class TickRecord:
    """What happened in one tick. Units: seconds, watts, joules, W1 on the duty support [0..1]."""

    agent: str
    tick: int
    round: int
    t: float  # wall clock, Unix seconds
    battery_soc: float | None = None
    harvest_w: float | None = None
    load_w: float | None = None
    duty: float | None = None  # duty level sent to the MCU, in [0, 1]
    policy_probs: list[float] | None = None  # the policy's own action distribution
    policy_hash: str | None = None  # SHA-256 (16 hex) of the model that decided (rollouts)
    duty_probs: list[float] | None = None  # the distribution the duty was drawn from
    alignment_bypassed: bool = False  # battery low: duty drawn from the policy's own probs
    aligned_probs: list[float] | None = None  # consensus state after this round's move
    peers: int = 0  # peer states the consensus move used this round
    members_alive: int = 0  # agents this one sees online (itself included)
    drift_w1: float | None = None
    adaptation_rate: float | None = None  # = the alignment step of this round
    stale_policy: bool = False  # the drift monitor raised a stale-policy event this tick
    planner: str | None = None  # who computed the allocation plan executed this tick
    plan_round: int | None = None  # the round of that plan
    given_j: float = 0.0  # energy the battery gave to peers this tick, as the MCU moved it (J)
    received_j: float = 0.0  # energy the battery took in from peers this tick (J)
    plan_given_j: float = 0.0  # what the plan said to give (more than given_j: battery empty)
    plan_received_j: float = 0.0  # what the plan delivers after losses
    reported_j: float = 0.0  # what the suppliers reported sent, after losses, bounded by the
    # deficit: what the battery was asked to take in (more than received_j: battery full)
    refused: dict[str, int] = field(default_factory=dict)  # offers/plans/reports refused
    # this tick, by reason (docs/coordination.md, "Trust")
    group: int | None = None  # this agent's group when the swarm is split (else None)
    group_head: str | None = None  # that group's head
    tick_s: float | None = None  # wall time the tick took, up to writing this record (s)
    errors: list[str] = field(default_factory=list)  # typed errors caught this tick


_FIELDS = tuple(f.name for f in fields(TickRecord))


class RunRecordWriter:
    """Append :class:`TickRecord` lines to ``path`` (created with its folder)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8", buffering=1)

    def write(self, record: TickRecord) -> None:
        # _finite copies every dict and list, so no deep copy (asdict) before it
        line = {name: getattr(record, name) for name in _FIELDS}
        self._file.write(json.dumps(_finite(line), allow_nan=False) + "\n")

    def close(self) -> None:
        self._file.close()


def _finite(value):
    """``value`` with every non-finite float replaced by None (strict JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def read_run_record(path: Path) -> Iterator[dict]:
    """The tick records in ``path``, in order; a torn last line (killed writer) is skipped."""
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: torn run-record line skipped", path, number)
