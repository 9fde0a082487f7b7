"""Policy alignment on the in-process bus: how fast the spread shrinks.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/bench_coordination_alignment.py

32 agents, each starting from a different action distribution over 5 duty
levels, align with step 0.5 over the real link (codec, uint16 weights). Graphs:
a sparse ring with chords (4 neighbours) and all-to-all; message loss 0, 10 and
30 %. Reports the max pairwise W1 per round, the per-round contraction factor
(geometric fit over the rounds above the wire's quantisation floor), rounds to
1e-3 of the initial spread, and deliveries per round.
"""

from __future__ import annotations

import json

import numpy as np
from coordination_common import LEVELS, machine, ring_with_chords, rounds_to, timed

from runtime.coordination import SwarmCoordinator, max_pairwise_w1
from runtime.link import InProcessBus

N, ROUNDS, STEP = 32, 40, 0.5


def run(graph: str, drop: float, seed: int = 0) -> dict:
    names, ring = ring_with_chords(N)
    bus = InProcessBus(f"al{seed}", seed=seed, drop=drop)
    rng = np.random.default_rng(seed)
    policies = rng.dirichlet(np.full(LEVELS.size, 0.5), size=N)
    swarm = []
    for name, policy in zip(names, policies, strict=True):
        link = bus.link(name, track_members=False)
        nbrs = ring[name] if graph == "ring+chords" else None
        coord = SwarmCoordinator(link, LEVELS, neighbours=nbrs, step=STEP).start()
        link.start()
        coord.align(policy)
        swarm.append(coord)
    spread, seconds = [max_pairwise_w1(policies, LEVELS)], 0.0
    before = sum(c.link.stats().received_messages for c in swarm)
    for r in range(1, ROUNDS + 1):
        _, dt = timed(lambda r=r: [c.round(r, 0.0, 0.0) for c in swarm])
        seconds += dt
        spread.append(max_pairwise_w1([c.aligner.state for c in swarm], LEVELS))
    delivered = sum(c.link.stats().received_messages for c in swarm) - before
    above = [r for r, s in enumerate(spread) if s > 1e-4]  # uint16 wire weights: floor ~1e-5
    slope = np.polyfit(above, np.log(np.array(spread)[above]), 1)[0] if len(above) > 2 else None
    return {
        "graph": graph,
        "drop": drop,
        "spread_every_5_rounds": [float(f"{s:.3g}") for s in spread[::5]],
        "contraction_per_round": None if slope is None else round(float(np.exp(slope)), 3),
        "rounds_to_1e-3": rounds_to(spread, 1e-3),
        "deliveries_per_round_histograms_and_offers": round(delivered / ROUNDS, 1),
        "wall_ms_per_round": round(1e3 * seconds / ROUNDS, 2),
    }


def main() -> None:
    cases = [run(g, d) for g in ("ring+chords", "all-to-all") for d in (0.0, 0.1, 0.3)]
    print(json.dumps({"agents": N, "step": STEP, "rounds": ROUNDS, "machine": machine(),
                      "cases": cases}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
