"""Figures of ``report.json`` computed from the agents' tick records.

Per round (the swarm-wide list ``"rounds"``):

- ``alignment_spread``: max over agent pairs of W1(s_i, s_j), the 1-D Wasserstein
  distance between their consensus states on the ordered duty support (units:
  duty, in [0, 1]; :func:`otswarm.coordination.quantile.max_pairwise_w1`);
- ``energy_moved_j``: sum over agents of the energy they sent that round (J);
- ``members_alive``: agents that ticked that round;
- ``planners``: who computed the allocation plans executed *for* that round
  (executed two rounds later; at most one when allocation is exactly-once).

Per agent, ``alignment`` gives W1(s_i, b) between its state and the swarm's W2
barycenter ``b`` of all states of the same round: in its first shared round, at
the end (median of the last ``END_ROUNDS`` rounds, as for the spread) and on average.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

import numpy as np


def alignment_spread(states: Sequence[Sequence[float]], support: Sequence[float]) -> float:
    """max_{i<j} W1(s_i, s_j) on ``support``; 0 for fewer than two states."""
    from otswarm.coordination.quantile import max_pairwise_w1

    return max_pairwise_w1(states, support) if len(states) > 1 else 0.0


def _by_round(records: Mapping[str, list[dict]]) -> dict[int, dict[str, dict]]:
    by_round: dict[int, dict[str, dict]] = defaultdict(dict)
    for agent, lines in records.items():
        for line in lines:
            by_round[line["round"]][agent] = line  # the agent's last tick of the round
    return by_round


def rounds_table(records: Mapping[str, list[dict]], support: Sequence[float]) -> list[dict]:
    """Swarm-wide figures per round from every agent's tick records."""
    planners: dict[int, set[str]] = defaultdict(set)
    for lines in records.values():
        for line in lines:
            if line["plan_round"] is not None:
                planners[line["plan_round"]].add(line["planner"])
    table = []
    for number, ticks in sorted(_by_round(records).items()):
        states = [t["aligned_probs"] for t in ticks.values() if t["aligned_probs"]]
        table.append(
            {
                "round": number,
                "t": min(t["t"] for t in ticks.values()),
                "alignment_spread": alignment_spread(states, support),
                "energy_moved_j": sum(t["given_j"] for t in ticks.values()),
                "members_alive": len(ticks),
                "planners": sorted(planners.get(number, ())),
                "stale_policy_events": sum(bool(t["stale_policy"]) for t in ticks.values()),
            }
        )
    return table


END_ROUNDS = 5  # the end spread is the median of the last rounds: one re-anchor is no verdict


def spread_start_end(rounds: list[dict]) -> tuple[float | None, float | None]:
    """Alignment spread at the start and at the end of the run.

    Start: the first round in which the swarm was complete (as many members as
    it ever had): every policy's own output, before consensus worked on it.
    End: the median over the last ``END_ROUNDS`` rounds with two members or more
    (a stale-policy event re-anchors an agent on its own policy on purpose, and
    the spread jumps for a few rounds; one such jump in the last round does not
    say whether the swarm agrees).
    """
    shared = [r for r in rounds if r["members_alive"] > 1]
    if not shared:
        return None, None
    complete = max(r["members_alive"] for r in shared)
    start = next(r for r in shared if r["members_alive"] == complete)["alignment_spread"]
    end = float(np.median([r["alignment_spread"] for r in shared[-END_ROUNDS:]]))
    return start, end


def w1_to_swarm_barycenter(
    records: Mapping[str, list[dict]], support: Sequence[float]
) -> dict[str, list[float]]:
    """Per agent, per round it took part in with others: W1 from its state to the barycenter."""
    from otswarm.coordination.quantile import barycenter_1d, w1_to_all

    out: dict[str, list[float]] = defaultdict(list)
    for _, ticks in sorted(_by_round(records).items()):
        agents = [a for a, t in ticks.items() if t["aligned_probs"]]
        if len(agents) < 2:
            continue
        states = np.array([ticks[a]["aligned_probs"] for a in agents])
        distances = w1_to_all(states, barycenter_1d(states, support), support)
        for agent, distance in zip(agents, distances, strict=True):
            out[agent].append(float(distance))
    return out


def agent_figures(lines: list[dict], w1: list[float]) -> dict:
    """Alignment, allocation, drift and battery figures of one agent's run."""
    drift = [line["drift_w1"] for line in lines if line["drift_w1"] is not None]
    executed = [line["plan_round"] for line in lines if line["plan_round"] is not None]
    soc = [line["battery_soc"] for line in lines if line["battery_soc"] is not None]
    duty = [line["duty"] for line in lines if line["duty"] is not None]
    rates = [line["adaptation_rate"] for line in lines if line["adaptation_rate"] is not None]
    return {
        "ticks": len(lines),
        "alignment": {
            "w1_to_barycenter_first": w1[0] if w1 else None,
            "w1_to_barycenter_end": float(np.median(w1[-END_ROUNDS:])) if w1 else None,
            "w1_to_barycenter_mean": float(np.mean(w1)) if w1 else None,
            "peers_last": lines[-1]["peers"] if lines else 0,
        },
        "allocation": {
            "given_j": sum(line["given_j"] for line in lines),
            "received_j": sum(line["received_j"] for line in lines),
            # the plan's figures: more than the above when a battery was empty / full
            "plan_given_j": sum(line.get("plan_given_j", 0.0) for line in lines),
            "plan_received_j": sum(line.get("plan_received_j", 0.0) for line in lines),
            # what the suppliers reported they sent, after losses: what it tried to take in
            "reported_j": sum(line.get("reported_j", 0.0) for line in lines),
            "plans_executed": len(executed),
            "plans_executed_twice": len(executed) - len(set(executed)),
            # offers, plans and reports this agent refused, by reason (docs/coordination.md)
            "refused": dict(sum((Counter(line.get("refused", {})) for line in lines), Counter())),
        },
        "drift": {
            "stale_policy_events": sum(bool(line["stale_policy"]) for line in lines),
            "max_w1": max(drift) if drift else None,
            "adaptation_rate_max": max(rates) if rates else None,
            "adaptation_rate_last": rates[-1] if rates else None,
        },
        "group": {
            "label": lines[-1]["group"] if lines else None,
            "head": lines[-1]["group_head"] if lines else None,
        },
        "battery_soc": {"first": soc[0] if soc else None, "last": soc[-1] if soc else None},
        "duty_mean": float(np.mean(duty)) if duty else None,
        "errors": sum(len(line["errors"]) for line in lines),
    }


def allocation_exactly_once(rounds: list[dict], agents: Mapping[str, dict]) -> bool:
    """True when no round executed plans from two planners and no agent ran a plan twice.

    False when nothing was checked (no round was ticked): a check that saw nothing
    did not pass.
    """
    return (
        bool(rounds)
        and all(len(r["planners"]) <= 1 for r in rounds)
        and all(a["allocation"]["plans_executed_twice"] == 0 for a in agents.values())
    )


def comparable(agents: Mapping[str, dict]) -> list[bool]:
    """Ledger-vs-record verdicts of the agents whose ledger could be compared (stopped
    cleanly; a killed agent loses its last commit window)."""
    return [a["ledger_consistent"] for a in agents.values() if a["ledger_consistent"] is not None]


def ledgers_match(agents: Mapping[str, dict]) -> bool:
    """True when every comparable ledger agrees with its tick records and there is at
    least one; False when none could be compared."""
    verdicts = comparable(agents)
    return bool(verdicts) and all(verdicts)


RECEIVED_TOLERANCE_J = 1e-3  # float32 joules in the transfer reports


def line_loss_j(agents: Mapping[str, dict]) -> float:
    """Energy given minus energy received over the swarm (J): what the transfers lost
    on the way (converter, line, radio), what full batteries could not take, and what
    was sent in the last rounds and not yet taken in when the run stopped."""
    given = sum(a["allocation"]["given_j"] for a in agents.values())
    return given - sum(a["allocation"]["received_j"] for a in agents.values())


def received_within_given(rounds: list[dict], agents: Mapping[str, dict]) -> bool:
    """True when the swarm took in no more energy than it gave (within float32);
    False when no round ticked (nothing was checked)."""
    return bool(rounds) and line_loss_j(agents) >= -RECEIVED_TOLERANCE_J
