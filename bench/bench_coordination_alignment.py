"""Policy alignment on the in-process bus: how fast the spread shrinks.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/bench_coordination_alignment.py

32 agents, each with a different constant policy (action distribution over 5
duty levels), align with step 0.5 over the real link (codec, uint16 weights).
Graphs: a sparse ring with chords (4 neighbours) and all-to-all; message loss 0,
10 and 30 %; anchor weight 0 (pure DeGroot: one consensus, the policies
forgotten) and the default 0.2 (Friedkin-Johnsen: an equilibrium that keeps
taking in each policy). Reports the max pairwise W1 per round, its per-round
contraction (geometric fit over the rounds above the wire's quantisation
floor), the contraction of the moves ``max_i W1(s_i(k+1), s_i(k))`` (the rate
to the fixed point), rounds to 1e-3 of the initial spread, the final spread
over the policies' spread, and deliveries per round.
"""

from __future__ import annotations

import json

import numpy as np
from coordination_common import LEVELS, machine, ring_with_chords, rounds_to, timed

from otswarm.coordination import AlignmentExchange, max_pairwise_w1
from otswarm.coordination.quantile import w1_to_all
from otswarm.link import InProcessBus

N, ROUNDS, STEP = 32, 40, 0.5
FLOOR = 1e-4  # uint16 wire weights: the spread's quantisation floor is ~1e-5


def contraction(series) -> float | None:
    """Per-round factor of a geometric fit to ``series`` over its values above FLOOR."""
    above = [r for r, s in enumerate(series) if s > FLOOR]
    if len(above) <= 2:
        return None
    return round(float(np.exp(np.polyfit(above, np.log(np.array(series)[above]), 1)[0])), 3)


def run(graph: str, drop: float, anchor: float, seed: int = 0) -> dict:
    names, ring = ring_with_chords(N)
    bus = InProcessBus(f"al{seed}", seed=seed, drop=drop)
    rng = np.random.default_rng(seed)
    policies = rng.dirichlet(np.full(LEVELS.size, 0.5), size=N)
    swarm = []
    for name, policy in zip(names, policies, strict=True):
        link = bus.link(name, track_members=False)
        nbrs = ring[name] if graph == "ring+chords" else None
        coord = AlignmentExchange(link, LEVELS, neighbours=nbrs, step=STEP, anchor=anchor)
        link.start()
        coord.start().align(policy)
        swarm.append(coord)
    spread, moves, seconds = [max_pairwise_w1(policies, LEVELS)], [], 0.0
    states = policies
    before = sum(c.link.stats().received_messages for c in swarm)
    for r in range(1, ROUNDS + 1):
        _, dt = timed(lambda r=r: [c.round(r) for c in swarm])
        seconds += dt
        for coord, policy in zip(swarm, policies, strict=True):
            coord.align(policy)  # one tick per round, as in the agent
        new = np.array([c.aligner.state for c in swarm])
        moves.append(max(w1_to_all(new[i], states[i], LEVELS)[0] for i in range(N)))
        spread.append(max_pairwise_w1(new, LEVELS))
        states = new
    delivered = sum(c.link.stats().received_messages for c in swarm) - before
    return {
        "graph": graph,
        "drop": drop,
        "anchor": anchor,
        "spread_every_5_rounds": [float(f"{s:.3g}") for s in spread[::5]],
        "contraction_per_round": contraction(spread),
        "move_contraction_per_round": contraction(moves),
        "final_over_policies_spread": round(spread[-1] / spread[0], 4),
        "rounds_to_1e-3": rounds_to(spread, 1e-3),
        "deliveries_per_round_histograms_and_offers": round(delivered / ROUNDS, 1),
        "wall_ms_per_round": round(1e3 * seconds / ROUNDS, 2),
    }


def main() -> None:
    cases = [
        run(g, d, a)
        for a in (0.0, 0.2)
        for g in ("ring+chords", "all-to-all")
        for d in (0.0, 0.1, 0.3)
    ]
    print(json.dumps({"agents": N, "step": STEP, "rounds": ROUNDS, "machine": machine(),
                      "cases": cases}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
