"""What coordination costs in joules, and what summary size and round period buy.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/bench_coordination_energy.py

Part 1, cost per round: 16 agents run alignment (AlignmentExchange, with
everyone) and allocation (AllocationRound: OT energy plans at the period the drift
monitor sets, transfer reports; no battery: what is decided is taken as moved), the monitor fed 8
harvest samples a round) on the in-process bus for 30 rounds, each with its own EnergyLedger
(Raspberry Pi 4 profile). Per agent and round: radio energy of the bytes sent
and received (link counters x the profile's Wi-Fi J/B) and the OT compute the
ledger measured (``ot``: thread CPU s x per-core W; CPU measured on this x86
machine, priced at the Pi 4's per-core power).

Part 2, accuracy for joules: 16 agents whose true action distributions (Beta
laws on [0, 1]) drift over an hour summarise them in B bins and agree once per
period T (one-shot all-to-all barycenter). Accuracy: the mean W1 between the
agreed histogram held until the next round and the true current swarm
barycenter (512-bin reference), over 400 instants of the hour. Joules per agent
per hour: rounds x (real encoded message bytes x J/B for 1 sent and 15 received
+ measured barycenter CPU x per-core W).
"""

from __future__ import annotations

import json
import tempfile
import time

import numpy as np
from coordination_common import LEVELS, machine

from otswarm.coordination import (
    AlignmentExchange,
    AllocationRound,
    DriftMonitor,
    TransferCosts,
    barycenter_1d,
)
from otswarm.coordination.exchange import histogram_message
from otswarm.energy import EnergyLedger, LedgerReader, ledger_path, load_profile
from otswarm.link import InProcessBus
from otswarm.ot import warmup, wasserstein_1d
from otswarm.summaries import encode

N, ROUNDS, TICKS = 16, 30, 8
PROFILE = load_profile("rpi4")


def cost_per_round(run_dir) -> dict:
    warmup()  # as an agent does at start: load the compiled kernels before measuring
    bus = InProcessBus("energy", seed=0)
    rng = np.random.default_rng(0)
    costs = TransferCosts.from_profile(PROFILE)
    agents, plans = [], 0
    for i in range(N):
        name = f"e{i:02d}"
        link = bus.link(name)  # members: allocation counts offers of live members only
        ledger = EnergyLedger(ledger_path(run_dir, name), name, PROFILE, start=False)
        alignment = AlignmentExchange(link, LEVELS, drift=DriftMonitor()).start()
        position = (*rng.uniform(0, 40, 2), 0.0)
        allocation = AllocationRound(
            link, costs=costs, position_m=position, min_move_per_solve=0.0, measure=ledger.measure
        ).start()
        link.start()
        agents.append(((alignment, allocation), ledger, rng.dirichlet(np.ones(LEVELS.size)),
                       1.0 + 4 * rng.random()))  # fmt: skip
    for r in range(ROUNDS):
        for (alignment, allocation), ledger, policy, harvest in agents:
            for _ in range(TICKS):
                alignment.align(policy)
                alignment.observe(harvest + 0.3 * rng.standard_normal())
            surplus = harvest - 3.0  # J this round above a 3 J need
            with ledger.measure("ot"):
                alignment.move(r)
            decided = allocation.decide(r, max(surplus, 0.0), max(-surplus, 0.0),
                                        alignment.replan_period)  # fmt: skip
            plans += decided.plan is not None
            alignment.publish(r)
            allocation.publish(decided, decided.send.joules if decided.send else 0.0)
    rows = []
    for (alignment, _), ledger, _, _ in agents:
        ledger.flush()
        stats = alignment.link.stats()
        booked = LedgerReader(ledger.path).totals(alignment.me)[alignment.me]
        rows.append([stats.sent_bytes * PROFILE.radio_tx_j_per_byte / ROUNDS,
                     stats.received_bytes * PROFILE.radio_rx_j_per_byte / ROUNDS,
                     booked.get("ot", 0.0) / ROUNDS,
                     (stats.sent_bytes + stats.received_bytes) / ROUNDS])  # fmt: skip
        ledger.close()
    mean = np.mean(rows, axis=0)
    return {
        "agents": N,
        "rounds": ROUNDS,
        "per_agent_per_round": {
            "radio_tx_j": float(f"{mean[0]:.4g}"),
            "radio_rx_j": float(f"{mean[1]:.4g}"),
            "ot_compute_j": float(f"{mean[2]:.4g}"),
            "total_j": float(f"{mean[:3].sum():.4g}"),
            "bytes": round(float(mean[3]), 1),
        },
        "plans": plans,
        # the planner (smallest id) spends on plans what the others do not
        "ot_compute_j_per_plan": float(
            f"{(rows[0][2] - np.mean([row[2] for row in rows[1:]])) * ROUNDS / max(plans, 1):.4g}"
        ),
    }


def beta_hist(alpha, beta, centres):
    from scipy.stats import beta as beta_law

    w = beta_law.pdf(centres, alpha, beta)
    return w / w.sum()


def true_laws(t, phases, fine):
    angle = 2 * np.pi * t / 3600.0
    return np.array([beta_hist(2 + 1.5 * np.sin(angle + p), 2 + 1.5 * np.cos(angle + 2 * p), fine)
                     for p in phases])  # fmt: skip


def coarse(hists, bins):
    return hists.reshape(hists.shape[0], bins, -1).sum(axis=2)


def accuracy_for_joules(bins_list=(4, 8, 16, 32, 64, 128), periods=(1, 10, 60, 300)) -> list:
    fine_n = 512
    fine = (np.arange(fine_n) + 0.5) / fine_n
    phases = np.random.default_rng(1).uniform(0, 2 * np.pi, N)
    instants = np.sort(np.random.default_rng(2).uniform(0, 3600, 400))
    truth = {t: barycenter_1d(true_laws(t, phases, fine), fine) for t in instants}
    table = []
    for bins in bins_list:
        centres = (np.arange(bins) + 0.5) / bins
        size = len(encode(histogram_message(np.full(bins, 1 / bins), centres, 0), agent="e00",
                          round=0, sequence=1, timestamp_us=1))  # fmt: skip
        sample = coarse(true_laws(0.0, phases, fine), bins)
        start = time.process_time()
        for _ in range(20):
            barycenter_1d(sample, centres)
        cpu_s = (time.process_time() - start) / 20
        round_j = size * (PROFILE.radio_tx_j_per_byte + (N - 1) * PROFILE.radio_rx_j_per_byte)
        round_j += cpu_s * PROFILE.per_core_w
        for period in periods:
            errors = []
            for t in instants:
                agreed_at = np.floor(t / period) * period
                agreed = barycenter_1d(coarse(true_laws(agreed_at, phases, fine), bins), centres)
                errors.append(wasserstein_1d(centres, fine, agreed, truth[t]))
            table.append({"bins": bins, "period_s": period, "message_bytes": size,
                          "w1_error": float(f"{np.mean(errors):.4g}"),
                          "j_per_agent_hour": float(f"{round_j * 3600 / period:.4g}")})  # fmt: skip
    return table


def main() -> None:
    with tempfile.TemporaryDirectory() as run_dir:
        cost = cost_per_round(run_dir)
    print(json.dumps({"profile": PROFILE.id, "machine": machine(), "cost_per_round": cost,
                      "accuracy_for_joules": accuracy_for_joules()}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
