"""The closed loop of one strategy on one seed: sense -> decide -> coordinate -> act.

Every ``tick_s`` of board time (one agent tick = one coordination round ``k``),
for every board that is up, as the agent does it (``otswarm.agent.loop``):

1. **sense**: charge, harvest now, load, hour of day, duty, joules received over
   the last round (``received_w``);
2. **decide**: the shipped ``harvest`` policy through LiteRT, one batched call for
   the boards that are up (``otswarm.policy.Policy``); alignment maps the
   probabilities onto the consensus (bypassed below the agent's safety charge); the
   duty is drawn from the result with the board's own seeded generator;
3. **drift**: the board's harvest feeds its drift monitor (``drift`` strategies);
   a stale-policy event re-anchors its consensus;
4. **coordinate**: the plan made at round ``k - 2`` is executed (each side must
   still be up); the planner of round ``k`` (smallest id among the offers, every
   ``period`` rounds) plans the offers of ``k``; the boards take one consensus
   step on the states published at ``k - 1``; each message's wire bytes are
   booked as sent once and received by each subscriber;
5. **act**: the boards run at their duties for the tick (``step_s`` physics
   steps, :class:`~.boards.Fleet`).

Policy inference and OT work (alignment, drift, clustering, plans) are timed
by the ledger (``otswarm.energy.EnergyLedger.measure``: thread CPU seconds at the
board profile's per-core watts) and the radio bytes priced per byte
(``book_bytes``), so the coordination's own joules come from the ledger's
accounting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from otswarm.energy import EnergyLedger
from otswarm.policy.observation import harvest_features, normalise
from otswarm.summaries import EnergyOffer

from .boards import Books, Fleet
from .scenario import DAY_S, Draw, Scenario
from .strategies import PRIORITY, Adaptation, Alignment, Allocation, Strategy, message_bytes

PLAN_DELAY = 2  # offers of round r are executed at r + 2 (AllocationRound)


@dataclass
class Run:
    """What one run produced (arrays per tick ``k`` and board ``i``)."""

    strategy: Strategy
    seed: int
    scenario: Scenario
    soc: np.ndarray  # (ticks + 1, N): charge at the start of each tick, and at the end
    up: np.ndarray  # (ticks, N): the board was up at the tick
    drawn_duty: np.ndarray  # (ticks, N): mean duty of what it drew from (nan if down)
    policy_duty: np.ndarray  # (ticks, N): mean duty its own policy asked (nan if down)
    work_h: np.ndarray  # (N,) duty-hours
    down_h: np.ndarray  # (N,) hours down
    shaded: np.ndarray  # (N,) bool
    books: Books
    stored_start_j: float
    stored_end_j: float
    balance_error_j: float
    ledger_j: dict  # component -> J
    stale_events: int
    plans: int
    wall_s: float


def run(scenario: Scenario, drawn: Draw, strategy: Strategy, policy, profile, folder: Path) -> Run:
    """Simulate ``strategy`` on ``drawn`` (ledger file in ``folder``)."""
    began = time.perf_counter()
    fleet = Fleet(drawn, scenario.restart_soc)
    n, ticks, boards = fleet.n, scenario.ticks, drawn.boards
    levels = np.asarray(policy.action_values, dtype=float)
    path = folder / f"{strategy.name.replace('/', '_')}_{drawn.seed}.ledger.sqlite"
    path.unlink(missing_ok=True)
    ledger = EnergyLedger(path, "swarm", profile, start=False)
    with ledger.measure("ot"):  # the clustering is OT work too
        align = Alignment(strategy.alignment, boards, levels, scenario)
    adapt = Adaptation(strategy.adaptation, n)
    alloc = Allocation(strategy.allocation, boards, profile, scenario)
    offer_bytes = message_bytes(EnergyOffer(0.0, 0.0, (0.0, 0.0, 0.0), 0.0, PRIORITY), "b000", 0)
    rngs = [np.random.default_rng([drawn.seed, i]) for i in range(n)]
    duty = np.ones(n)  # the simulated MCU boots at duty 1
    received_j = np.zeros(n)
    pending: dict[int, list] = {}
    soc = np.empty((ticks + 1, n))
    up = np.zeros((ticks, n), dtype=bool)
    drawn_duty = np.full((ticks, n), np.nan)
    policy_duty = np.full((ticks, n), np.nan)
    plans = 0
    for k in range(ticks):
        t = k * scenario.tick_s
        alive = fleet.up.copy()
        up[k] = alive
        soc[k] = fleet.soc()
        harvest = fleet.harvest_w(t)
        live = np.flatnonzero(alive)
        if live.size:
            quantities = {
                "battery_soc": soc[k][live],
                "harvest_w": harvest[live],
                "load_w": fleet.load_w[live],
                "hour_of_day": np.full(live.size, (t % DAY_S) / 3600.0),
                "duty": duty[live],
                "received_w": received_j[live] / scenario.tick_s,
            }
            obs = normalise(harvest_features(quantities), policy.card.observation)
            with ledger.measure("policy"):
                probs = policy.action_probabilities(obs)
            drawn_p = probs
            if align.on or adapt.monitors is not None:  # only OT work is booked as ot
                with ledger.measure("ot"):
                    drawn_p = [align.decide(i, probs[row], soc[k][i]) for row, i in enumerate(live)]
                    for i in live:
                        if adapt.observe(i, k, float(harvest[i])) and align.on:
                            align.reanchor(i)
            for row, i in enumerate(live):
                p = drawn_p[row]
                duty[i] = levels[rngs[i].choice(levels.size, p=p / p.sum())]
                drawn_duty[k, i], policy_duty[k, i] = p @ levels, probs[row] @ levels
        received_j[:] = 0.0
        for source, target, joules, loss in pending.pop(k, []):
            if alive[source] and alive[target]:
                sent = fleet.transfer(source, target, joules, loss)
                received_j[target] += sent * (1.0 - loss)
        tx = rx = 0
        if alloc.on and live.size:
            offers = alloc.offers(alive, soc[k], fleet.energy_j())
            tx += offer_bytes * live.size
            rx += offer_bytes * live.size * (live.size - 1)
            planner = min(offers)
            if k % adapt.period(alloc.index[planner]) == 0:
                with ledger.measure("ot"):
                    moves, message = alloc.plan(k, planner, offers)
                pending[k + PLAN_DELAY] = moves
                plans += 1
                size = message_bytes(message, planner, k)
                tx, rx = tx + size, rx + size * (live.size - 1)
        if align.on and live.size:
            with ledger.measure("ot"):
                align.round(alive, adapt.steps(n))
            for i in live:
                tx += align.message_bytes
                rx += align.message_bytes * align.receivers(i, alive)
        if tx:
            ledger.book_bytes("mqtt_tx", int(tx))
            ledger.book_bytes("mqtt_rx", int(rx))
        for s in range(round(scenario.tick_s / scenario.step_s)):
            fleet.advance(t + s * scenario.step_s, scenario.step_s, duty)
    soc[ticks] = fleet.soc()
    totals = ledger.totals().get("swarm", {})
    ledger.close()
    path.unlink(missing_ok=True)
    return Run(
        strategy=strategy,
        seed=drawn.seed,
        scenario=scenario,
        soc=soc,
        up=up,
        drawn_duty=drawn_duty,
        policy_duty=policy_duty,
        work_h=fleet.work_h.copy(),
        down_h=fleet.down_h.copy(),
        shaded=np.array([b.shaded for b in boards]),
        books=fleet.books,
        stored_start_j=fleet.stored_at_start,
        stored_end_j=fleet.stored_j(),
        balance_error_j=fleet.balance_error_j(),
        ledger_j={c: float(j) for c, j in totals.items() if c != "idle"},
        stale_events=sum(len(s) for s in adapt.stale_at),
        plans=plans,
        wall_s=time.perf_counter() - began,
    )
