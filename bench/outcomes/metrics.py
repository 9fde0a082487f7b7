"""The figures of one run (energies in Wh, times in board-hours).

- ``downtime_h``: board-hours down (empty battery, until it boots again);
  ``worst_downtime_h``: the worst board's;
- ``work_h``: duty-hours done, ``sum_i sum_t duty_i(t) * up_i(t) * dt``;
- ``fairness``: Jain's index of the per-board work ``w_i``,
  ``(sum w)^2 / (N sum w^2)``, 1/N (one board does everything) .. 1 (equal);
- ``wasted_wh``: harvest spilled by full batteries plus transfer losses;
- ``coordination_j``: the ledger's joules for the policy, OT work and radio;
- ``reaction_h``: how fast the shaded boards' duty follows the shock. With
  ``u(t)`` the shaded boards' mean duty (0 while down) as a trailing mean over
  ``W`` (24 h, less when the run is shorter), ``u_pre`` its value at the shock
  and ``u_post`` its mean over the last ``W`` of the run, the reaction time is
  the time after the shock until ``u`` first crosses ``(u_pre + u_post) / 2``
  (the half-response time; an instant response reads about ``W / 2``). None when
  the response is under 0.02 duty (nothing to react to).
"""

from __future__ import annotations

import numpy as np

from .simulate import Run

WH = 3600.0
MIN_RESPONSE = 0.02  # duty: smaller pre/post differences are not a response


def jain(x: np.ndarray) -> float:
    """Jain's fairness index of non-negative ``x`` (1.0 when all are zero: equal)."""
    x = np.asarray(x, dtype=float)
    squares = float((x * x).sum())
    return 1.0 if squares == 0 else float(x.sum() ** 2 / (x.size * squares))


def reaction_h(run: Run) -> float | None:
    """Half-response time of the shaded boards' duty after the shock, h (module doc)."""
    s = run.scenario
    if not run.shaded.any():
        return None
    tick_h = s.tick_s / 3600.0
    shock = round(s.shock_s / s.tick_s)
    ticks = run.up.shape[0]
    if not 0 < shock < ticks:
        return None
    window = max(1, min(round(24.0 / tick_h), shock, (ticks - shock) // 2))
    duty = np.where(run.up, np.nan_to_num(run.drawn_duty), 0.0)[:, run.shaded].mean(axis=1)
    trailing = np.convolve(duty, np.ones(window) / window, mode="full")[:ticks]
    pre, post = trailing[shock - 1], duty[ticks - window :].mean()
    if abs(post - pre) < MIN_RESPONSE:
        return None
    half = 0.5 * (pre + post)
    after = trailing[shock:]
    crossed = np.flatnonzero((after - half) * np.sign(post - pre) >= 0)
    k = crossed[0] if crossed.size else after.size - 1
    return float((k + 1) * tick_h)


def figures(run: Run) -> dict[str, float | None]:
    """Every figure of ``run`` (see the module doc), plus its energy books."""
    b = run.books
    ledger = run.ledger_j
    radio = ledger.get("mqtt_tx", 0.0) + ledger.get("mqtt_rx", 0.0)
    return {
        "downtime_h": float(run.down_h.sum()),
        "worst_downtime_h": float(run.down_h.max()),
        "work_h": float(run.work_h.sum()),
        "fairness": jain(run.work_h),
        "wasted_wh": (b.spilled + b.transfer_lost) / WH,
        "shared_wh": b.sent / WH,
        "reaction_h": reaction_h(run),
        "coordination_j": ledger.get("policy", 0.0) + ledger.get("ot", 0.0) + radio,
        "policy_j": ledger.get("policy", 0.0),
        "ot_j": ledger.get("ot", 0.0),
        "radio_j": radio,
        "stale_events": float(run.stale_events),
        "plans": float(run.plans),
        "harvest_wh": b.harvest / WH,
        "stored_delta_wh": (run.stored_end_j - run.stored_start_j) / WH,
        "used_wh": b.used / WH,
        "spilled_wh": b.spilled / WH,
        "conversion_lost_wh": b.conversion_lost / WH,
        "transfer_lost_wh": b.transfer_lost / WH,
        "balance_error_wh": run.balance_error_j / WH,
    }
