"""Scalability: the two scaling protocols over one balanced OT clustering, and all-to-all.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/bench_coordination_scale.py [N ...]

N agents (10, 100, 1000, 5000 by default) at random positions on a 1 km square,
each with a random action distribution over 5 duty levels, run consensus with
step 0.7 on the in-process bus (real codec). Both scaling protocols use the same
groups of at most ceil(sqrt(N)) agents (balanced OT clustering):

- hierarchical (what the agent runs: ``AlignmentExchange.set_groups``, the
  two-level consensus of ``ClusterNode``): members -> head -> heads -> members,
  one publish stage a round, every agent moves toward the swarm barycenter;
- grouped gossip (``AlignmentExchange`` with ``Clustering.neighbours``, what the
  agent ran before): every agent aligns with its group, heads also with each
  other, one message each;

all-to-all: every agent hears every other and moves toward their barycenter.
Per round: deliveries, bytes delivered, wall time (the whole swarm in this one
process: the CPU the protocol costs); the quality of the consensus: rounds until
the max pairwise W1 is below 1e-3 of the initial one, and the mean contraction
of that spread per round. All-to-all runs fully up to 100 agents, one round at
1000, and is counted (not run) at 5000: N (N - 1) deliveries of the measured
message size. Grouped gossip runs 40 rounds up to 100 agents, 20 at 1000, 8 at
5000 (its rounds to 1e-3 is null when it needs more).
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np
from coordination_common import LEVELS, machine, rounds_to, timed

from otswarm.coordination import AlignmentExchange, align_step, cluster, max_pairwise_w1
from otswarm.coordination.exchange import histogram_message
from otswarm.link import InProcessBus
from otswarm.summaries import Kind

STEP = 0.7


def traffic(links) -> tuple[int, int]:
    stats = [link.stats() for link in links]
    return sum(s.received_messages for s in stats), sum(s.received_bytes for s in stats)


def run_rounds(links, one_round, states_of, rounds) -> dict:
    spread = [max_pairwise_w1(states_of(), LEVELS)]
    start, walls = traffic(links), []
    for r in range(rounds):
        _, seconds = timed(one_round, r)
        walls.append(seconds)
        spread.append(max_pairwise_w1(states_of(), LEVELS))
    end = traffic(links)
    contraction = (spread[-1] / spread[0]) ** (1.0 / rounds) if spread[0] > 0 else 0.0
    return {
        "deliveries_per_round": round((end[0] - start[0]) / rounds, 1),
        "bytes_per_round": round((end[1] - start[1]) / rounds, 1),
        "wall_s_per_round": round(float(np.median(walls)), 4),
        "rounds_run": rounds,
        "rounds_to_1e-3": rounds_to(spread, 1e-3),
        "contraction_per_round": round(contraction, 4),
    }


def groups_of(ids, positions):
    """The balanced OT clustering both scaling protocols run on, and its time."""
    return timed(cluster, ids, positions, math.ceil(math.sqrt(len(ids))))


def _exchanges(bus_name: str, clustering, ids, states, neighbours, groups=None) -> list:
    """One started ``AlignmentExchange`` per agent of ``clustering`` on a new bus,
    listening to ``neighbours(agent)`` (and running the two-level consensus over
    ``groups``, when given), anchor 0, its state at the agent's own start."""
    bus = InProcessBus(bus_name)
    start = dict(zip(ids, states, strict=True))
    exchanges = []
    for a in clustering.ids:
        link = bus.link(a, track_members=False)
        exchange = AlignmentExchange(link, LEVELS, neighbours=neighbours(a), step=STEP, anchor=0.0)
        exchange.set_groups(groups)
        exchange.start()
        link.start()
        exchange.align(start[a])
        exchange.move(-1)  # nothing heard yet: the state starts at the agent's own
        exchanges.append(exchange)
    return exchanges


def _run(exchanges, one_round, rounds) -> dict:
    links = [exchange.link for exchange in exchanges]
    return run_rounds(links, one_round, lambda: [e.aligner.state for e in exchanges], rounds)


def hierarchical(clustering, ids, states, rounds) -> dict:
    """What the agent runs past ``cluster_size``: ``AlignmentExchange.set_groups``
    (the two-level consensus of ``ClusterNode``, one publish stage a round; each
    agent listens to its cluster's senders only, ``neighbours=()``; anchor 0)."""
    exchanges = _exchanges("tiers", clustering, ids, states, lambda a: (), clustering)

    def one_round(r):
        for exchange in exchanges:
            exchange.round(r)

    return _run(exchanges, one_round, rounds)


def grouped(clustering, ids, states, rounds) -> dict:
    """Gossip within the groups: ``AlignmentExchange`` with ``Clustering.neighbours``
    (what the agent ran before the two-level consensus; anchor 0, so that the
    states go to one consensus as in the other two)."""
    exchanges = _exchanges("groups", clustering, ids, states, clustering.neighbours)

    def one_round(r):
        for exchange in exchanges:
            exchange.publish(r)
        for exchange in exchanges:
            exchange.move(r)

    return _run(exchanges, one_round, rounds)


def all_to_all(ids, states, rounds) -> dict:
    bus = InProcessBus("flat")
    links = [bus.link(a, track_members=False) for a in ids]
    inbox: list[dict] = [{} for _ in ids]
    for link, box in zip(links, inbox, strict=True):
        link.on(
            Kind.HISTOGRAM,
            lambda env, box=box: box.__setitem__(env.header.agent, env.message.weights),
        )
        link.start()
    current = [np.asarray(s) for s in states]

    def one_round(r):
        for link, state in zip(links, current, strict=True):
            link.publish(histogram_message(state, LEVELS, 0), round=r)
        for i, box in enumerate(inbox):
            current[i] = align_step(current[i], list(box.values()), LEVELS, STEP)

    return run_rounds(links, one_round, lambda: current, rounds)


def measure(n: int) -> dict:
    rng = np.random.default_rng(n)
    ids = [f"a{i:05d}" for i in range(n)]
    positions = rng.uniform(0, 1000, (n, 2))
    states = rng.dirichlet(np.full(LEVELS.size, 0.5), size=n)
    clustering, cluster_s = groups_of(ids, positions)
    tiers = hierarchical(clustering, ids, states, rounds=8 if n >= 5000 else 10)
    gossip = grouped(clustering, ids, states, rounds=8 if n >= 5000 else 20 if n >= 1000 else 40)
    if n <= 100:
        flat = all_to_all(ids, states, rounds=10)
    elif n <= 1000:
        flat = all_to_all(ids, states, rounds=1)
    else:
        size = tiers["bytes_per_round"] / tiers["deliveries_per_round"]
        flat = {"counted_not_run": True, "deliveries_per_round": n * (n - 1),
                "bytes_per_round": round(n * (n - 1) * size)}  # fmt: skip
    keys = ("deliveries_per_round", "bytes_per_round")
    return {
        "agents": n,
        "groups": len(clustering.heads),
        "max_group": int(clustering.sizes.max()),
        "capacity": clustering.capacity,
        "clustering_s": round(cluster_s, 3),
        "hierarchical": tiers,
        "grouped": gossip,
        "all_to_all": flat,
        "hierarchical/all_to_all": {k: round(tiers[k] / flat[k], 5) for k in keys},
        "grouped/all_to_all": {k: round(gossip[k] / flat[k], 5) for k in keys},
        "hierarchical/grouped": {
            k: round(tiers[k] / gossip[k], 4) for k in (*keys, "wall_s_per_round")
        },
    }


def main(argv) -> None:
    sizes = [int(a) for a in argv] or [10, 100, 1000, 5000]
    print(json.dumps({"step": STEP, "machine": machine(), "cases": [measure(n) for n in sizes]},
                     indent=2))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
