"""The alignment exchange of one agent, bound to a :class:`~otswarm.link.SwarmLink`.

The agent loop calls:

- ``align(probs)`` every tick: the policy's action probabilities, aligned;
- ``observe(value)`` every tick: feeds the drift monitor (harvest, observation);
  on a stale-policy event, consensus restarts from the policy's own average;
- ``set_groups(clustering)`` once per round, before ``move``: the groups of the
  two-level consensus (:mod:`otswarm.coordination.hierarchy`), or None while the
  swarm fits in one group;
- ``move(r)`` once per round ``r``: its consensus state moves toward the
  barycenter of its own live policy's average (the anchor) and what it heard,
  with the step the drift monitor's adaptation rate gives: without groups the
  neighbours' states, with groups the swarm barycenter its cluster head
  published (a head computes it);
- ``publish(r)``: what this agent says this round goes out, stamped ``r``:
  its consensus histogram, or, for a cluster head, its cluster and swarm
  barycenters.

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
from otswarm.coordination.clustering import Clustering
from otswarm.coordination.drift import DriftMonitor, DriftReading
from otswarm.coordination.errors import HistogramError
from otswarm.coordination.hierarchy import LEVELS, MEMBER, ClusterNode
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
    neighbours_heard: int  # with groups: the agents whose histograms made the target


class AlignmentExchange:
    """Wasserstein consensus of one agent's policy with its neighbours over ``link``.

    Args:
        link: the agent's SwarmLink; call :meth:`start` before ``link.start()``.
        levels: the ordered action support (duty levels), equally spaced.
        neighbours: ids whose histograms this agent aligns with (None: everyone)
            while it has no groups (:meth:`set_groups`).
        drift: the drift monitor (None: fixed ``step`` and re-planning every round).
        step: alignment step when there is no drift monitor.
        anchor: weight ``lam`` of the live policy's average in each consensus
            round (:func:`~otswarm.coordination.alignment.anchored_step`).
        support_id: the support id of the consensus histograms; with groups, the
            cluster and swarm barycenters use the next two (others are ignored).
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
        self._node: ClusterNode | None = None  # the two-level consensus, with groups
        self._round: int | None = None  # of the last move
        self._started = False

    @property
    def groups(self) -> Clustering | None:
        """The clustering of the two-level consensus (None: no groups)."""
        node = self._node
        return None if node is None else node.clustering

    def set_groups(self, clustering: Clustering | None) -> None:
        """Run the two-level consensus over ``clustering`` from now on (None: align
        with the neighbours' states). The same clustering again changes nothing; a
        new one starts from what arrives under it."""
        with self._lock:
            if clustering is self.groups:
                return
            node = None if clustering is None else ClusterNode(self.me, clustering, self.levels)
            self._node = node
        if self._started:
            self._listen()

    def _listen(self) -> None:
        """Subscribe to the cluster's senders (the wildcard of ``neighbours=None``
        already hears everyone)."""
        node = self._node
        if node is not None and self.neighbours is not None:
            for agent in node.senders:
                if agent not in self._subscribed:
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
        self._listen()
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
        """What the last move went toward: the neighbours' consensus states usable at
        its round, or, with groups, the swarm barycenter (none heard: empty)."""
        with self._lock:
            r = self._round
            if r is None:
                return []
            if self._node is not None:
                target = self._node.last_target
                return [] if target is None else [target]
            return [h for rnd, h in self._histograms.values() if abs(r - rnd) <= self.max_age]

    def kept(self) -> int:
        """How many senders' histograms are kept (at most those heard within
        ``max_age`` rounds of the last move, so a flood of ids is forgotten)."""
        with self._lock:
            return len(self._histograms)

    def move(self, r: int) -> AlignmentMove:
        """One consensus move with what arrived in rounds near ``r``; neighbours' states
        too old (or too far ahead) for round ``r`` are dropped."""
        with self._lock:
            self._round = r
            self._histograms = {
                a: h for a, h in self._histograms.items() if abs(r - h[0]) <= self.max_age
            }
            if self.aligner.reference is None:  # the policy never ran: nothing to move
                return AlignmentMove(r, None, self.step, 0)
            node = self._node
            if node is None:
                fresh = [h for _, h in self._histograms.values()]
                heard = len(fresh)
            else:
                own = self.aligner.reference if self.aligner.state is None else self.aligner.state
                target, heard = node.target(own, r, self.max_age)
                fresh = [] if target is None else [target]
        state = self.aligner.consensus_round(fresh, step=self.step)
        return AlignmentMove(r, state, self.step, heard)

    def publish(self, r: int) -> None:
        """Publish this round's histograms (nothing before the first move)."""
        state = self.aligner.state
        node = self._node
        if node is None:
            said = [] if state is None else [(MEMBER, state)]
        else:
            with self._lock:
                said = node.outgoing(state)
        for level, weights in said:
            message = histogram_message(weights, self.levels, self.support_id + level)
            self.link.publish(message, round=r)

    def round(self, r: int) -> AlignmentMove:
        """:meth:`move`, then :meth:`publish`."""
        moved = self.move(r)
        self.publish(r)
        return moved

    # -- handler (transport thread) ----------------------------------------------------
    def _on_histogram(self, envelope: Envelope) -> None:
        msg = envelope.message
        level = msg.support_id - self.support_id
        if level not in LEVELS:
            return
        sender = envelope.header.agent
        if msg.weights.size != self.levels.size:
            log.debug("%s: histogram of %s has %d bins, expected %d: ignored", self.me,
                      sender, msg.weights.size, self.levels.size)  # fmt: skip
            return
        with self._lock:
            if self._node is not None:
                self._node.receive(sender, level, envelope.header.round, msg.weights)
            elif level == MEMBER and self._wanted(sender):
                self._histograms[sender] = (envelope.header.round, msg.weights)
