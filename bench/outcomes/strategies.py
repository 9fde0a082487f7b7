"""The strategies compared, and the runtime's decision code each one calls.

A strategy is one choice per capability:

- allocation: ``none``; ``proportional`` and ``greedy`` (nearest-first), the
  runtime's baselines; ``ot-unbalanced``, the runtime's plan
  (``otswarm.coordination.allocation.ot_plan``: balanced Sinkhorn when supply and
  gross demand agree, semi-relaxed unbalanced Sinkhorn otherwise); ``ot-balanced``:
  the long side scaled down to the short side's total, then the same ``ot_plan``
  (so every solve is balanced Sinkhorn);
- alignment: ``off`` (each board draws its duty from its own policy); ``all``
  (anchored Wasserstein consensus with every other board, ``PolicyAligner``);
  ``clusters`` (the same within OT-balanced clusters of similar boards:
  ``otswarm.coordination.cluster`` on standardised panel, battery and load,
  groups of ``cluster_size``, heads also with each other);
- adaptation: ``fixed`` (alignment step 0.5 and a plan every round, as
  ``AlignmentExchange`` without a drift monitor) or ``drift`` (a ``DriftMonitor``
  per board on its harvest sets the step and the planner's re-planning period,
  and a stale-policy event re-anchors the consensus, as in the agent).

Offers come from the agent's own ``OfferPolicy`` with the agent's defaults, the
loss and cost matrices from ``otswarm.coordination.plans.offer_book`` on real
``EnergyOffer`` messages; the bytes of every message are those of the wire
format (``otswarm.summaries.encode``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from otswarm.agent.config import CoordinationSection
from otswarm.agent.offers import OfferPolicy
from otswarm.agent.sense import Reading
from otswarm.coordination import DriftMonitor, PolicyAligner, cluster
from otswarm.coordination.allocation import greedy_plan, gross_demand, ot_plan, proportional_plan
from otswarm.coordination.costs import TransferCosts
from otswarm.coordination.plans import MIN_TRANSFER_J, offer_book
from otswarm.summaries import AllocationPlan, EnergyOffer, Histogram, Transfer, encode

from .scenario import Board, Scenario

ALLOCATIONS = ("none", "proportional", "greedy", "ot-balanced", "ot-unbalanced")
ALIGNMENTS = ("off", "all", "clusters")
ADAPTATIONS = ("fixed", "drift")
FIXED_STEP = 0.5  # AlignmentExchange's alignment step without a drift monitor
PRIORITY = 128  # every board asks with the same priority
AGENT = CoordinationSection()  # the agent's coordination defaults


@dataclass(frozen=True)
class Strategy:
    allocation: str
    alignment: str
    adaptation: str

    def __post_init__(self):
        for value, allowed in (
            (self.allocation, ALLOCATIONS),
            (self.alignment, ALIGNMENTS),
            (self.adaptation, ADAPTATIONS),
        ):
            if value not in allowed:
                raise ValueError(f"strategy: {value!r} is not one of {allowed}")

    @property
    def name(self) -> str:
        return f"{self.allocation}/{self.alignment}/{self.adaptation}"


@dataclass(frozen=True)
class Comparison:
    """One capability's question: do its OT variants beat the best non-OT one on
    ``figure`` (``higher`` better or not), every other choice held fixed?"""

    capability: str
    figure: str
    higher_is_better: bool
    baselines: tuple[Strategy, ...]
    ot: tuple[Strategy, ...]


def _s(allocation, alignment="off", adaptation="fixed"):
    return Strategy(allocation, alignment, adaptation)


COMPARISONS = (
    Comparison(
        "allocation",
        "downtime_h",
        False,
        (_s("none"), _s("proportional"), _s("greedy")),
        (_s("ot-balanced"), _s("ot-unbalanced")),
    ),
    Comparison(
        "allocation",
        "fairness",
        True,
        (_s("none"), _s("proportional"), _s("greedy")),
        (_s("ot-balanced"), _s("ot-unbalanced")),
    ),
    Comparison(
        "alignment", "work_h", True, (_s("none"),), (_s("none", "all"), _s("none", "clusters"))
    ),
    Comparison(
        "adaptation",
        "reaction_h",
        False,
        (_s("ot-unbalanced", "all"),),
        (_s("ot-unbalanced", "all", "drift"),),
    ),
)
STRATEGIES = tuple(dict.fromkeys(s for c in COMPARISONS for s in (*c.baselines, *c.ot)))


class Alignment:
    """Per-board ``PolicyAligner`` and the neighbour sets of one alignment choice."""

    def __init__(self, mode: str, boards: tuple[Board, ...], levels, scenario: Scenario):
        self.mode = mode
        self.levels = np.asarray(levels, dtype=float)
        ids = [b.id for b in boards]
        self.aligners = [
            PolicyAligner(self.levels, step=FIXED_STEP, anchor=AGENT.alignment_anchor)
            for _ in boards
        ]
        index = {b: i for i, b in enumerate(ids)}
        if mode == "all":
            self.neighbours = [[j for j in range(len(ids)) if j != i] for i in range(len(ids))]
        elif mode == "clusters":
            x = np.array([b.features for b in boards])
            x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-12)
            groups = cluster(ids, x, min(scenario.cluster_size, len(ids)))
            self.neighbours = [[index[a] for a in groups.neighbours(b)] for b in ids]
        else:
            self.neighbours = [[] for _ in ids]
        self.states: list[np.ndarray | None] = [None] * len(ids)
        hist = Histogram(np.full(self.levels.size, 1.0 / self.levels.size), -0.125, 1.125)
        self.message_bytes = message_bytes(hist, ids[0], 0)

    @property
    def on(self) -> bool:
        return self.mode != "off"

    def decide(self, i: int, probs: np.ndarray, soc: float) -> np.ndarray:
        """The distribution board ``i`` draws its duty from (the agent's bypass rule:
        below ``bypass_alignment_below_soc`` its own policy's)."""
        if not self.on:
            return probs
        aligned = self.aligners[i].apply(probs)
        return probs if soc < AGENT.bypass_alignment_below_soc else aligned

    def round(self, alive: np.ndarray, steps: np.ndarray) -> None:
        """One consensus round on last round's states of the alive neighbours."""
        if not self.on:
            return
        published = list(self.states)
        for i in np.flatnonzero(alive):
            heard = [
                published[j] for j in self.neighbours[i] if alive[j] and published[j] is not None
            ]
            nbrs = np.array(heard) if heard else np.zeros((0, self.levels.size))
            self.states[i] = self.aligners[i].consensus_round(nbrs, float(steps[i]))

    def receivers(self, i: int, alive: np.ndarray) -> int:
        """How many alive boards subscribe to board ``i``'s histogram."""
        return sum(1 for j in np.flatnonzero(alive) if i in self.neighbours[j])

    def reanchor(self, i: int) -> None:
        self.aligners[i].reanchor()


class Adaptation:
    """Alignment step and re-planning period: fixed, or driven by a drift monitor."""

    def __init__(self, mode: str, n: int):
        self.mode = mode
        self.monitors = (
            [DriftMonitor(window=AGENT.drift_window, seed=i) for i in range(n)]
            if mode == "drift"
            else None
        )
        self.stale_at: list[list[int]] = [[] for _ in range(n)]  # ticks of stale events

    def observe(self, i: int, tick: int, harvest_w: float) -> bool:
        """Feed board ``i``'s harvest; True on a stale-policy event."""
        if self.monitors is None:
            return False
        reading = self.monitors[i].observe(harvest_w)
        if reading is not None and reading.stale:
            self.stale_at[i].append(tick)
            return True
        return False

    def steps(self, n: int) -> np.ndarray:
        if self.monitors is None:
            return np.full(n, FIXED_STEP)
        return np.array([m.adaptation.alignment_step for m in self.monitors])

    def period(self, planner: int) -> int:
        return 1 if self.monitors is None else self.monitors[planner].adaptation.replan_period


class Allocation:
    """Offers, plans and their wire bytes for one allocation method."""

    def __init__(self, method: str, boards: tuple[Board, ...], profile, scenario: Scenario):
        self.method = method
        self.boards = boards
        self.costs = TransferCosts.from_profile(profile)
        self.offer_policy = OfferPolicy(
            AGENT.share_above_soc, AGENT.ask_below_soc, AGENT.transfer_max_w
        )
        self.loss_fraction = scenario.loss_fraction
        self.round_s = scenario.tick_s
        self.index = {b.id: i for i, b in enumerate(boards)}
        self.capacity_j = [b.config.battery_capacity_j for b in boards]

    @property
    def on(self) -> bool:
        return self.method != "none"

    def offers(self, alive: np.ndarray, soc: np.ndarray, energy_j: np.ndarray) -> dict:
        """Each alive board's ``EnergyOffer`` from the agent's ``OfferPolicy``."""
        out = {}
        for i in np.flatnonzero(alive):
            reading = Reading(
                battery_soc=float(soc[i]),
                harvest_w=0.0,
                load_w=0.0,
                duty=0.0,
                hour_of_day=0.0,
                battery_energy_j=float(energy_j[i]),
                mcu_time_s=0.0,
                battery_capacity_j=self.capacity_j[i],
            )
            supply, demand = self.offer_policy.supply_demand(reading, self.round_s)
            out[self.boards[i].id] = EnergyOffer(
                supply, demand, self.boards[i].position_m, self.loss_fraction, PRIORITY
            )
        return out

    def plan(self, r: int, planner: str, offers: dict) -> tuple[list, AllocationPlan]:
        """``[(source, target, joules sent, loss J/J)]`` and the plan as sent on the wire."""
        book = offer_book(offers, self.costs)
        s, d, loss, cost = book.supply_j, book.demand_j, book.loss, book.cost
        if s.size == 0 or d.size == 0:
            matrix = np.zeros_like(loss)
        elif self.method == "proportional":
            matrix = proportional_plan(s, d, loss)
        elif self.method == "greedy":
            matrix = greedy_plan(s, d, loss)
        elif self.method == "ot-balanced":
            matrix = ot_plan(*_balanced(s, d, loss), loss, cost)
        else:
            matrix = ot_plan(s, d, loss, cost)
        moves, transfers = [], []
        for a, b in zip(*np.nonzero(matrix > MIN_TRANSFER_J), strict=True):
            src, dst = book.suppliers[a], book.consumers[b]
            moves.append((self.index[src], self.index[dst], float(matrix[a, b]), float(loss[a, b])))
            transfers.append(Transfer(src, dst, float(matrix[a, b])))
        return moves, AllocationPlan(r, planner, tuple(transfers))


def _balanced(supply, demand, loss) -> tuple[np.ndarray, np.ndarray]:
    """Scale the long side down so that supply equals gross demand (balanced OT)."""
    total_s, total_g = supply.sum(), gross_demand(demand, loss).sum()
    if total_s > total_g:
        return supply * (total_g / total_s), demand
    return supply, demand * (total_s / total_g)


def message_bytes(message, agent: str, r: int) -> int:
    """Size of ``message`` on the wire (header + body, unsigned), bytes."""
    return len(encode(message, agent=agent, round=r, sequence=0, timestamp_us=0))


AGENT_METHODS = {"ot": "ot-unbalanced", "greedy": "greedy", "proportional": "proportional"}


def default_strategy() -> Strategy:
    """The strategy the agent runs with its shipped ``[coordination]`` defaults."""
    return Strategy(
        AGENT_METHODS[AGENT.allocation_method] if AGENT.allocation else "none",
        "all" if AGENT.alignment else "off",
        "drift" if AGENT.drift else "fixed",
    )


def to_run() -> tuple[Strategy, ...]:
    """Every compared strategy, and the default's when it is not among them."""
    return tuple(dict.fromkeys((*STRATEGIES, default_strategy())))
