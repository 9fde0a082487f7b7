"""When the kernel-domain sweeps over-relax (``_kernel.next_omega``): the early
start on a fast, steady contraction, the late start otherwise, the fallback,
and what it buys against plain Sinkhorn with the same start and stopping test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ot_cases import assert_balanced_plan_is_measured_and_right

from otswarm.ot import sinkhorn
from otswarm.ot._kernel import (
    EARLY_RATE,
    EARLY_START,
    GROWTH,
    MAX_RATE,
    RATE_WINDOW,
    REFRESH,
    RELAX_START,
    next_omega,
)

pytestmark = pytest.mark.usefixtures("ot_warm")


def _omegas(errors):
    """The relaxation after each sweep whose marginal error is ``errors[k]``."""
    history = np.full(RATE_WINDOW + 1, np.inf)
    omega, relax, best = 1.0, True, np.inf
    out = []
    for it, err in enumerate(errors):
        omega, relax, best = next_omega(it, err, omega, relax, best, history)
        out.append(omega)
    return out


def _optimal(rate):
    return 2.0 / (1.0 + math.sqrt(1.0 - rate))


def test_a_fast_steady_contraction_starts_the_relaxation_early():
    omegas = _omegas([1e-2 * 0.15**k for k in range(12)])
    assert omegas[: EARLY_START - 1] == [1.0] * (EARLY_START - 1)
    assert omegas[EARLY_START - 1] == pytest.approx(_optimal(0.15), rel=1e-12)
    # it stays until the first refresh (which these errors, still at the plain
    # rate, would raise: test_a_relaxed_rate_slower_than_w_minus_1_raises_w...)
    refresh = RELAX_START + RATE_WINDOW + (-(RELAX_START + RATE_WINDOW)) % REFRESH
    assert omegas[EARLY_START - 1 : refresh] == [omegas[EARLY_START - 1]] * (
        refresh - EARLY_START + 1
    )


def test_a_slow_contraction_waits_for_the_rate_over_the_window():
    rate = 0.9  # above EARLY_RATE
    assert rate > EARLY_RATE
    omegas = _omegas([1e-2 * rate**k for k in range(12)])
    assert omegas[: RELAX_START - 1] == [1.0] * (RELAX_START - 1)
    assert omegas[RELAX_START - 1] == pytest.approx(_optimal(rate), rel=1e-9)


def test_a_fast_but_unsteady_contraction_waits_too():
    errors = [1e-2]
    for k in range(11):
        errors.append(errors[-1] * (0.1 if k % 2 else 0.3))  # rates 0.3, 0.1, 0.3, ...
    omegas = _omegas(errors)
    assert omegas[: RELAX_START - 1] == [1.0] * (RELAX_START - 1)
    window = (errors[RELAX_START - 1] / errors[RELAX_START - 1 - RATE_WINDOW]) ** (1 / RATE_WINDOW)
    assert omegas[RELAX_START - 1] == pytest.approx(_optimal(window), rel=1e-9)


def test_zero_and_growing_errors_neither_raise_nor_relax():
    # an error of exactly 0 between checks (check_every > 1), then growth
    assert _omegas([1e-3, 0.0, 0.0, 1e-4, 1e-5, 1e-4, 1e-3, 1e-2]) == [1.0] * 8
    assert _omegas([np.inf, np.inf, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3e-2]) == [1.0] * 8


def test_growth_after_an_early_start_falls_back_to_plain_sweeps_for_good():
    errors = [1e-2 * 0.2**k for k in range(5)]
    errors += [errors[-1] * 1.5 * GROWTH, errors[-1] * 0.5, errors[-1] * 0.1, errors[-1] * 0.01]
    omegas = _omegas(errors)
    assert omegas[EARLY_START - 1] > 1.0
    assert omegas[5:] == [1.0] * 4


def test_a_transient_growth_after_the_start_keeps_the_relaxation():
    # what a relaxed solve does for a few sweeps after w is set: 2-3x the best
    errors = [1e-2 * 0.97**k for k in range(RELAX_START)]
    errors += [errors[-1] * f for f in (1.4, 2.2, 3.0, 1.8, 0.9, 0.5, 0.2)]
    omegas = _omegas(errors)
    assert omegas[RELAX_START - 1] > 1.5
    assert omegas[RELAX_START:] == [omegas[RELAX_START - 1]] * 7


def _relaxed_tail(rate, lam, sweeps):
    """Errors of sweeps at the plain ``rate`` until the relaxation starts, then
    at the relaxed rate ``lam``."""
    errors = [1e-2 * rate**k for k in range(RELAX_START)]
    for _ in range(sweeps):
        errors.append(errors[-1] * lam)
    return errors


def test_a_relaxed_rate_slower_than_w_minus_1_raises_w_by_youngs_relation():
    omegas = _omegas(_relaxed_tail(0.6, 0.9, 20))
    first = omegas[RELAX_START - 1]
    assert first == pytest.approx(_optimal(0.6), rel=1e-9)
    refresh = RELAX_START + RATE_WINDOW + (-(RELAX_START + RATE_WINDOW)) % REFRESH
    assert omegas[RELAX_START - 1 : refresh] == [first] * (refresh - RELAX_START + 1)
    plain = (0.9 + first - 1.0) ** 2 / (0.9 * first**2)  # Young: (lam + w - 1)^2 = lam w^2 r
    assert omegas[refresh] == pytest.approx(_optimal(plain), rel=1e-9) and omegas[refresh] > first
    # the next refresh raises it again (the errors still fall at 0.9), up to the cap
    later = omegas[refresh + REFRESH]
    assert later >= omegas[refresh] and later <= _optimal(MAX_RATE) + 1e-12


def test_the_refresh_never_lowers_w_nor_reads_an_oscillating_error():
    first = _optimal(0.9)
    # at the optimum the relaxed rate is w - 1: no change
    assert set(_omegas(_relaxed_tail(0.9, first - 1.0, 20))[RELAX_START - 1 :]) == {first}
    # faster than w - 1 (w too large for this problem): the refresh does not lower it
    assert set(_omegas(_relaxed_tail(0.9, 0.5 * (first - 1.0), 20))[RELAX_START - 1 :]) == {first}
    # slow on average but not monotone (the oscillating regime): no change
    errors = _relaxed_tail(0.9, 1.0, 0)
    for k in range(20):
        errors.append(errors[-1] * (1.2 if k % 2 else 0.75))
    assert set(_omegas(errors)[RELAX_START - 1 :]) == {first}


def _plain_sweeps(a, b, M, reg, tol):
    """Sweeps of plain Sinkhorn-Knopp from the same start (``u = 1``, ``v = b /
    K^T 1``) with the same stopping test (the marginal violation of ``(u, v)``
    after the row update)."""
    K = np.exp((M.min(axis=0) - M) / reg)
    v = b / K.sum(axis=0)
    for it in range(1, 100000):
        u = a / (K @ v)
        t = K.T @ u
        if np.linalg.norm(t * v - b) < tol:
            return it
        v = b / t
    raise AssertionError("plain Sinkhorn did not converge")


def _problem(seed, reg_range):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(20, 300)), int(rng.integers(20, 300))
    dim = int(rng.integers(1, 5))
    x, y = rng.random((n, dim)), rng.random((m, dim))
    M = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    scale = 10.0 ** rng.uniform(-2, 3)
    M *= scale / M.max()
    kind = seed % 3
    a = np.ones(n) if kind == 0 else rng.random(n) ** (1 if kind == 1 else 6) + 1e-5
    b = np.ones(m) if kind == 0 else rng.random(m) ** (1 if kind == 1 else 6) + 1e-5
    reg = scale * rng.uniform(*reg_range)
    tol = float(10.0 ** rng.uniform(-10, -7))
    return a / a.sum(), b / b.sum(), M, reg, tol


# fast: 160 / 185 plain sweeps (170 with the relaxation from sweep 6 only); slow: 428 / 744
@pytest.mark.parametrize(
    "reg_range, share", [((0.1, 0.6), 0.9), ((0.03, 0.1), 0.7)], ids=["fast", "slow"]
)
def test_relaxed_sweeps_never_outnumber_plain_ones_and_the_plan_stays_right(reg_range, share):
    ours, plain = [], []
    for seed in range(24):
        a, b, M, reg, tol = _problem(seed, reg_range)
        got = sinkhorn(a, b, M, reg, method="kernel", tol=tol)
        assert got.converged and got.method == "kernel"
        assert_balanced_plan_is_measured_and_right(got, a, b, M, reg, tol)
        ours.append(got.n_iter)
        plain.append(_plain_sweeps(a, b, M, reg, tol))
    assert all(o <= p for o, p in zip(ours, plain, strict=True)), (ours, plain)
    assert sum(ours) < share * sum(plain), (ours, plain)
