"""The agent loop's collaborators, typed as the loop uses them (``typing.Protocol``).

One protocol per part of the tick (sense -> decide -> act -> publish -> book):

- :class:`SensePart` (sense): :class:`~otswarm.agent.sense.BridgeSense`,
  :class:`~otswarm.agent.sense.MeterSense`;
- :class:`AlignmentPart` and :class:`AllocationPart` (decide and publish: the
  coordinate parts): :class:`~otswarm.coordination.exchange.AlignmentExchange`,
  :class:`~otswarm.coordination.rounds.AllocationRound`;
  :class:`GroupingPart` (the groups the consensus runs on):
  :class:`~otswarm.agent.groups.Grouping`;
- :class:`ActPart` (act): :class:`~otswarm.agent.act.BridgeActuator`,
  :class:`~otswarm.agent.act.AdvisoryActuator`;
- :class:`BookPart` (book, and the CPU spans of decide): the
  :class:`~otswarm.energy.ledger.EnergyLedger`;
- :class:`LinkPart`: the swarm link the agent owns
  (:class:`~otswarm.link.SwarmLink`), for membership, traffic and closing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # types only: nothing heavy is imported at run time
    import numpy as np

    from otswarm.agent.sense import Reading
    from otswarm.coordination.clustering import Clustering
    from otswarm.coordination.drift import DriftReading
    from otswarm.coordination.exchange import AlignmentMove
    from otswarm.coordination.rounds import Allocation
    from otswarm.energy.ledger import Span
    from otswarm.link.stats import LinkStats
    from otswarm.summaries import EnergyOffer, Message


class SensePart(Protocol):
    def read(self) -> Reading:
        """The board's latest reading (a typed error when there is none)."""


class ActPart(Protocol):
    def set_duty(self, duty: float) -> None:
        """Run the loads at ``duty`` (0..1)."""

    def transfer(self, joules: float) -> float:
        """Move ``joules`` into (+) or out of (-) the battery; the joules that moved."""

    def book_serial(self) -> None:
        """Book the serial bytes since the last call (the book stage calls it)."""

    def close(self) -> None: ...


class AlignmentPart(Protocol):
    @property
    def replan_period(self) -> int:
        """Rounds between the plans this agent makes when it is the planner."""

    def align(self, probs: Sequence[float]) -> np.ndarray:
        """The policy's action probabilities, aligned with the swarm."""

    def observe(self, value: float) -> DriftReading | None:
        """Feed the drift monitor."""

    def set_groups(self, clustering: Clustering | None) -> None:
        """The groups of the two-level consensus (None: none)."""

    def move(self, r: int) -> AlignmentMove:
        """Round ``r``'s consensus move."""

    def publish(self, r: int) -> None:
        """Publish round ``r``'s histograms."""

    def peer_states(self) -> list[np.ndarray]:
        """What the last move went toward."""


class AllocationPart(Protocol):
    refused: Counter[str]

    def offers(self, r: int) -> dict[str, EnergyOffer]:
        """Round ``r``'s offers by agent (the membership view)."""

    def decide(
        self, r: int, supply_j: float, demand_j: float, replan_period: int = 1
    ) -> Allocation:
        """What to move and publish in round ``r``."""

    def publish(self, allocation: Allocation, given_j: float) -> None:
        """Publish the round's plan, offer and transfer report."""


class GroupingPart(Protocol):
    def update(self, offers: Mapping[str, Any]) -> Clustering | None:
        """The groups for this membership view (None: one group)."""


class BookPart(Protocol):
    def measure(self, component: str) -> AbstractContextManager[Span]:
        """Time a block of work and book its joules to ``component``."""

    def book(self, component: str, joules: float) -> None:
        """Book joules measured or computed by the caller."""

    def book_bytes(self, component: str, n_bytes: int) -> float:
        """Book bytes on a byte-priced component; the joules."""

    def booked(self) -> dict[str, float]:
        """Joules per component booked since the ledger opened (the telemetry reads them)."""

    def booked_until(self, component: str) -> float | None:
        """The latest time ``component``'s bookings cover (the telemetry's idle baseline)."""

    def close(self) -> None: ...


class LinkPart(Protocol):
    def alive(self) -> list[str]: ...

    def publish(self, message: Message, *, round: int | None = None) -> int: ...

    def stats(self) -> LinkStats: ...

    def close(self) -> None: ...
