"""Build ``report.json`` from what the agents left in the output folder.

Inputs, per agent: its run record (one :class:`~runtime.agent.record.TickRecord`
line per tick), its energy ledger, and how its process ended. Output: the
document of the design's contract — ``"agents"`` keyed by agent id (energy by
component, alignment, allocation and drift figures) and ``"rounds"``, one entry
per round with the swarm-wide figures:

- ``alignment_spread``: max over agent pairs of W1(p_i, p_j), the 1-D
  Wasserstein distance between their aligned action distributions on the
  ordered duty support (units: duty, in [0, 1]);
- ``energy_moved_j``: sum over agents of the energy they sent that round (J);
- ``members_alive``: agents that ticked that round;
- ``planners``: who computed the allocation plans executed *for* that round
  (executed two rounds later; at most one when allocation is exactly-once).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from runtime.ot import wasserstein_1d


def alignment_spread(distributions: Sequence[Sequence[float]], support: Sequence[float]) -> float:
    """max_{i<j} W1(p_i, p_j) on the shared ordered ``support``; 0 for fewer than two."""
    x = np.asarray(support, dtype=np.float64)
    spread = 0.0
    for p, q in itertools.combinations(distributions, 2):
        spread = max(spread, float(wasserstein_1d(x, x, np.asarray(p), np.asarray(q))))
    return spread


def rounds_table(records: Mapping[str, list[dict]], support: Sequence[float]) -> list[dict]:
    """Swarm-wide figures per round from every agent's tick records."""
    by_round: dict[int, dict[str, dict]] = defaultdict(dict)
    planners: dict[int, set[str]] = defaultdict(set)
    for agent, lines in records.items():
        for line in lines:
            by_round[line["round"]][agent] = line  # the agent's last tick of the round
            if line["plan_round"] is not None:
                planners[line["plan_round"]].add(line["planner"])
    table = []
    for number in sorted(by_round):
        ticks = by_round[number]
        aligned = [t["aligned_probs"] for t in ticks.values() if t.get("aligned_probs")]
        table.append(
            {
                "round": number,
                "t": min(t["t"] for t in ticks.values()),
                "alignment_spread": alignment_spread(aligned, support),
                "energy_moved_j": sum(t["given_j"] for t in ticks.values()),
                "members_alive": len(ticks),
                "planners": sorted(planners.get(number, ())),
                "stale_policy_events": sum(bool(t["stale_policy"]) for t in ticks.values()),
            }
        )
    return table


def agent_figures(lines: list[dict]) -> dict:
    """Alignment, allocation, drift and battery figures of one agent's run."""
    w1 = [line["w1_to_barycenter"] for line in lines if line["w1_to_barycenter"] is not None]
    drift = [line["drift_w1"] for line in lines if line["drift_w1"] is not None]
    executed = [line["plan_round"] for line in lines if line["plan_round"] is not None]
    soc = [line["battery_soc"] for line in lines if line["battery_soc"] is not None]
    duty = [line["duty"] for line in lines if line["duty"] is not None]
    return {
        "ticks": len(lines),
        "alignment": {
            "w1_to_barycenter_first": w1[0] if w1 else None,
            "w1_to_barycenter_last": w1[-1] if w1 else None,
            "w1_to_barycenter_mean": float(np.mean(w1)) if w1 else None,
            "peers_last": lines[-1]["peers"] if lines else 0,
        },
        "allocation": {
            "given_j": sum(line["given_j"] for line in lines),
            "received_j": sum(line["received_j"] for line in lines),
            "plans_executed": len(executed),
            "plans_executed_twice": len(executed) - len(set(executed)),
        },
        "drift": {
            "stale_policy_events": sum(bool(line["stale_policy"]) for line in lines),
            "max_w1": max(drift) if drift else None,
            "last_adaptation_rate": next(
                (x["adaptation_rate"] for x in reversed(lines) if x["adaptation_rate"] is not None),
                None,
            ),
        },
        "battery_soc": {"first": soc[0] if soc else None, "last": soc[-1] if soc else None},
        "duty_mean": float(np.mean(duty)) if duty else None,
        "errors": sum(len(line["errors"]) for line in lines),
    }


def allocation_exactly_once(rounds: list[dict], agents: Mapping[str, dict]) -> bool:
    """True when no round executed plans from two planners and no agent ran a plan twice."""
    return all(len(r["planners"]) <= 1 for r in rounds) and all(
        a["allocation"]["plans_executed_twice"] == 0 for a in agents.values()
    )
