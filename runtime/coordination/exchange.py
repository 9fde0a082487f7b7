"""The alignment exchange of one agent, bound to a :class:`~otswarm.link.SwarmLink`.

The agent loop calls:

- ``align(probs)`` every tick: the policy's action probabilities, aligned;
- ``observe(value)`` every tick: feeds the drift monitor (harvest, observation);
  on a stale-policy event, consensus restarts from the policy's own average;
- ``move(r)`` once per round ``r``: its consensus state moves toward the
  barycenter of its own live policy's average (the anchor) and the neighbours'
  states, with the step the drift monitor's adaptation rate gives;
- ``publish(r)``: its consensus histogram goes out, stamped ``r``.

``round(r)`` is ``move`` then ``publish``. Energy allocation is apart
(:class:`otswarm.coordination.rounds.AllocationRound`); the drift monitor's
re-planning period (:attr:`AlignmentExchange.replan_period`) is what the agent
hands it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from otswarm.coordination.alignment import DEFAULT_ANCHOR, PolicyAligner
from otswarm.coordination.drift import DriftMonitor, DriftReading
from otswarm.coordination.errors import HistogramError
from otswarm.summaries import Envelope, Histogram, Kind

log = logging.getLogger(__name__)


def histogram_message(weights, levels: np.ndarray, support_id: int) -> Histogram:
    """A Histogram message whose bin centres are the (equally spaced) ``levels``."""
    half = 0.5 * (levels[1] - levels[0])
    return Histogram(np.asarray(weights), levels[0] - half, levels[-1] + half, support_id)


@dataclass(frozen=True)
class AlignmentMove:
    """One consensus move: the new state (None before the policy ever ran), the step
    it used and how many neighbours' states it heard."""

    round: int
    state: np.ndarray | None
    step: float
    neighbours_heard: int


class AlignmentExchange:
    """Wasserstein consensus of one agent's policy with its neighbours over ``link``.

    Args:
        link: the agent's SwarmLink; call :meth:`start` before ``link.start()``.
        levels: the ordered action support (duty levels), equally spaced.
        neighbours: ids whose histograms this agent aligns with (None: everyone).
        drift: the drift monitor (None: fixed ``step`` and re-planning every round).
        step: alignment step when there is no drift monitor.
        anchor: weight ``lam`` of the live policy's average in each consensus
            round (:func:`~otswarm.coordination.alignment.anchored_step`).
        support_id: the support id of the histograms (agents on other ids are ignored).
        max_age: rounds a neighbour's histogram stays usable.
    """

    def __init__(
        self,
        link,
        levels: Sequence[float],
        *,
        neighbours: Sequence[str] | None = None,
        drift: DriftMonitor | None = None,
        step: float = 0.5,
        anchor: float = DEFAULT_ANCHOR,
        support_id: int = 0,
        max_age: int = 2,
    ):
        self.link = link
        self.me = link.agent
        self.aligner = PolicyAligner(levels, step=step, anchor=anchor)
        self.levels = self.aligner.support
        if not np.allclose(np.diff(self.levels), self.levels[1] - self.levels[0]):
            raise HistogramError(f"levels must be equally spaced for the wire: {levels}")
        self.neighbours = None if neighbours is None else set(neighbours)
        self.drift = drift
        self.support_id = support_id
        self.max_age = max_age
        self._lock = threading.Lock()
        self._histograms: dict[str, tuple[int, np.ndarray]] = {}
        self._subscribed: set[str] = set()
        self._round: int | None = None  # of the last move
        self._started = False

    def set_neighbours(self, neighbours: Sequence[str] | None) -> None:
        """Align with these agents from now on (None: everyone), e.g. after re-clustering
        (``Clustering.neighbours``). Histograms from others are ignored."""
        with self._lock:
            old = self.neighbours
            self.neighbours = None if neighbours is None else set(neighbours)
            self._histograms = {a: h for a, h in self._histograms.items() if self._wanted(a)}
        if self._started and old is not None:
            if self.neighbours is None:
                self.link.on(Kind.HISTOGRAM, self._on_histogram)
            else:
                for agent in sorted(self.neighbours - old - self._subscribed):
                    self._subscribe(agent)

    def _wanted(self, agent: str) -> bool:
        return self.neighbours is None or agent in self.neighbours

    def _subscribe(self, agent: str) -> None:
        self._subscribed.add(agent)
        self.link.on(Kind.HISTOGRAM, self._on_histogram, sender=agent)

    def start(self) -> AlignmentExchange:
        """Register the handler on the link. Call it before ``link.start()``: the link
        then subscribes to everything at once and, over MQTT, returns when the broker
        has the subscriptions; after start, subscribing is asynchronous and the first
        messages of the others may be missed (harmless: one round without them)."""
        if self._started:
            return self
        if self.neighbours is None:
            self.link.on(Kind.HISTOGRAM, self._on_histogram)
        else:
            for agent in sorted(self.neighbours):
                self._subscribe(agent)
        self._started = True
        return self

    # -- every tick -------------------------------------------------------------------
    def align(self, probs) -> np.ndarray:
        """Aligned action probabilities for this tick (the policy's own before round 1)."""
        return self.aligner.apply(probs)

    def observe(self, value) -> DriftReading | None:
        """Feed the drift monitor; on a stale-policy event, consensus restarts from the
        policy's own average (``PolicyAligner.reanchor``)."""
        if self.drift is None:
            return None
        reading = self.drift.observe(value)
        if reading is not None and reading.stale:
            self.aligner.reanchor()
        return reading

    @property
    def step(self) -> float:
        """Alignment step: the adaptation rate when a drift monitor is attached."""
        return self.aligner.step if self.drift is None else self.drift.adaptation.alignment_step

    @property
    def replan_period(self) -> int:
        """Rounds between the plans this agent makes when it is the planner."""
        return 1 if self.drift is None else self.drift.adaptation.replan_period

    # -- once per round ---------------------------------------------------------------
    def peer_states(self) -> list[np.ndarray]:
        """The neighbours' consensus states usable at the round of the last move."""
        with self._lock:
            r = self._round
            if r is None:
                return []
            return [h for rnd, h in self._histograms.values() if abs(r - rnd) <= self.max_age]

    def kept(self) -> int:
        """How many senders' histograms are kept (at most those heard within
        ``max_age`` rounds of the last move, so a flood of ids is forgotten)."""
        with self._lock:
            return len(self._histograms)

    def move(self, r: int) -> AlignmentMove:
        """One consensus move with the neighbours' states of rounds near ``r``; states
        too old (or too far ahead) for round ``r`` are dropped."""
        with self._lock:
            self._round = r
            self._histograms = {
                a: h for a, h in self._histograms.items() if abs(r - h[0]) <= self.max_age
            }
        fresh = self.peer_states()
        state = None
        if self.aligner.reference is not None:
            state = self.aligner.consensus_round(fresh, step=self.step)
        return AlignmentMove(r, state, self.step, len(fresh))

    def publish(self, r: int) -> None:
        """Publish the consensus state (nothing before the first move)."""
        if self.aligner.state is not None:
            message = histogram_message(self.aligner.state, self.levels, self.support_id)
            self.link.publish(message, round=r)

    def round(self, r: int) -> AlignmentMove:
        """:meth:`move`, then :meth:`publish`."""
        moved = self.move(r)
        self.publish(r)
        return moved

    # -- handler (transport thread) ----------------------------------------------------
    def _on_histogram(self, envelope: Envelope) -> None:
        msg = envelope.message
        if msg.support_id != self.support_id:
            return
        if msg.weights.size != self.levels.size:
            log.debug("%s: histogram of %s has %d bins, expected %d: ignored", self.me,
                      envelope.header.agent, msg.weights.size, self.levels.size)  # fmt: skip
            return
        with self._lock:
            if self._wanted(envelope.header.agent):
                self._histograms[envelope.header.agent] = (envelope.header.round, msg.weights)
