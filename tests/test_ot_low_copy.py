"""The float32 copy of a float64 kernel that the first sweeps run on
(``_kernel.build_with_copy``, ``_kernel.sweeps``): the copy is exactly
``float32(K)``, the returned plan is the one measured on ``K`` itself, the
answer is POT's and that of the float64 sweeps alone, and a copy that is wrong
or breaks down costs sweeps, never the answer. And the cost that the last
sweep takes on the way (``_kernel.row_sweep`` with ``C``): that of the plan
returned, as ``plan_cost`` gives it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ot_cases import assert_balanced_plan_is_measured_and_right, cloud_problem

from otswarm.ot import sinkhorn
from otswarm.ot._kernel import (
    LOW_MIN,
    LOW_SPREAD,
    RATE_WINDOW,
    SWITCH,
    build,
    build_with_copy,
    column_range,
    plan_cost,
    spread,
    sweeps,
    takes_copy,
)

pytestmark = pytest.mark.usefixtures("ot_warm")
TINY = float(np.finfo(np.float64).tiny)


def _kernel(M, eps, copy=True):
    """``K``, ``t = K^T 1``, the copy and the column range's spread."""
    n, m = M.shape
    lo, hi = np.empty(m), np.empty(m)
    assert column_range(M, lo, hi)
    K, t = np.empty_like(M), np.empty(m)
    low = np.full((n if copy else 0, m), np.nan, dtype=np.float32)
    shift, sums = np.empty(m), np.empty(m)
    build_with_copy(M, None, lo, spread(lo, hi), eps, K, t, TINY, shift, sums, low)
    return K, t, low, spread(lo, hi)


def _sweep(K, low, a, b, t, max_iter, tol, C=None, check_every=1):
    """:func:`sweeps`: ``(n_iter, err, status, l1, u, v, cost)``."""
    n, m = K.shape
    u, v = np.empty(n), np.empty(m)
    C = K[:0] if C is None else C
    work = [np.empty(m), np.empty(m), np.empty(m, np.float32), np.empty(m)]
    n_iter, err, status, l1, cost = sweeps(K, low, C, a, b, 1.0, 1.0, None, u, v, t.copy(),
                                           max_iter, tol, check_every, TINY, work[0], work[1],
                                           work[2], work[3], np.empty(RATE_WINDOW + 1))  # fmt: skip
    return n_iter, err, status, l1, u, v, cost


def _measured(K, u, v, a, b):
    """The stopping test's error of the plan ``(u, v)`` on ``K``, in NumPy."""
    P = u[:, None] * K * v[None, :]
    return math.hypot(np.linalg.norm(P.sum(1) - a), np.linalg.norm(P.sum(0) - b))


@pytest.mark.parametrize("shape", [(130, 70), (257, 203), (64, 129)])
def test_the_copy_is_float32_of_the_kernel_and_the_kernel_is_the_builds(shape):
    _, _, M = cloud_problem(*shape, seed=shape[0])
    K, t, low, _ = _kernel(M, 0.07)
    K0, t0 = np.empty_like(M), np.empty(M.shape[1])
    lo, hi = np.empty(M.shape[1]), np.empty(M.shape[1])
    column_range(M, lo, hi)
    build(M, lo, spread(lo, hi), 0.07, K0, t0, TINY, np.empty(M.shape[1]), np.empty(M.shape[1]))
    assert np.array_equal(K, K0) and np.array_equal(t, t0)  # the copy changes nothing else
    assert np.array_equal(low, K.astype(np.float32))  # every entry written, rounded to nearest


@pytest.mark.parametrize("seed", range(12))
def test_sweeps_on_the_copy_end_on_the_plan_of_the_kernel_itself(seed):
    """Same sweeps, same answer as the float64 sweeps alone, to their tol; the
    error returned is that of ``(u, v)`` on ``K`` (NumPy), at every max_iter."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(90, 400)), int(rng.integers(90, 400))
    a, b, M = cloud_problem(n, m, seed=seed + 50, dim=int(rng.integers(1, 5)))
    if seed % 3 == 2:  # weights spread over five decades
        a, b = rng.random(n) ** 6 + 1e-5, rng.random(m) ** 6 + 1e-5
        a, b = a / a.sum(), b / b.sum()
    eps = float(10.0 ** rng.uniform(-1.7, -0.5))
    tol = float(10.0 ** rng.uniform(-11, -8))
    K, t, low, sp = _kernel(M, eps)
    assert sp <= LOW_SPREAD * eps
    plain = _sweep(K, low[:0], a, b, t, 5000, tol)
    mixed = _sweep(K, low, a, b, t, 5000, tol)
    assert plain[2] == mixed[2] == 0  # CONVERGED
    assert abs(mixed[0] - plain[0]) <= 2, (mixed[0], plain[0])
    assert _measured(K, mixed[4], mixed[5], a, b) == pytest.approx(mixed[1], rel=1e-6, abs=1e-16)
    assert mixed[1] <= tol
    cost = (plan_cost(K, M, mixed[4], mixed[5]), plan_cost(K, M, plain[4], plain[5]))
    assert cost[0] == pytest.approx(cost[1], rel=10 * tol + 1e-12)
    for max_iter in (1, 2, 3, 5):  # stopped early: the last sweep is on K all the same
        got = _sweep(K, low, a, b, t, max_iter, 1e-300)
        assert got[0] == max_iter and got[2] == 1  # MAX_ITER
        assert _measured(K, got[4], got[5], a, b) == pytest.approx(got[1], rel=1e-6)


def test_a_wrong_copy_costs_sweeps_not_the_answer():
    """A copy 1e-3 off (another problem's kernel): its sweeps converge to the
    wrong plan, but only the sweeps on ``K`` decide, so the answer is ``K``'s."""
    a, b, M = cloud_problem(200, 150, seed=3)
    K, t, low, _ = _kernel(M, 0.1)
    rng = np.random.default_rng(4)
    wrong = (K * (1.0 + 1e-3 * rng.standard_normal(K.shape))).astype(np.float32)
    plain = _sweep(K, low[:0], a, b, t, 5000, 1e-10)
    got = _sweep(K, wrong, a, b, t, 5000, 1e-10)
    assert got[2] == 0 and got[1] <= 1e-10
    assert _measured(K, got[4], got[5], a, b) <= 1e-10 * (1 + 1e-6)
    assert plan_cost(K, M, got[4], got[5]) == pytest.approx(plan_cost(K, M, plain[4], plain[5]),
                                                            rel=1e-9)  # fmt: skip


@pytest.mark.parametrize("broken", ["zero_row", "overflow"])
def test_a_copy_whose_sums_break_down_restarts_on_the_kernel(broken):
    """A row of the copy that sums to 0 (or a column that overflows) fails on
    the first sweep; the sweeps restart from ``u = 1`` on ``K`` and converge
    there, one sweep later, to the float64 plan."""
    a, b, M = cloud_problem(180, 120, seed=8)
    K, t, low, _ = _kernel(M, 0.05)
    if broken == "zero_row":
        low[17] = 0.0
    else:
        low[:, 5] = np.float32(np.inf)
    plain = _sweep(K, low[:0], a, b, t, 5000, 1e-10)
    got = _sweep(K, low, a, b, t, 5000, 1e-10)
    assert got[2] == 0 and got[0] == plain[0] + 1  # converged, after the failed sweep
    np.testing.assert_array_equal(got[4], plain[4])  # the same sweeps on K from u = 1
    assert plan_cost(K, M, got[4], got[5]) == pytest.approx(plan_cost(K, M, plain[4], plain[5]),
                                                            rel=1e-9)  # fmt: skip


def test_a_float32_kernel_has_no_copy():
    M = np.ones((4, 3), np.float32)
    lo = np.zeros(3)
    with pytest.raises(ValueError, match="float64"):
        build_with_copy(M, None, lo, 0.0, 1.0, np.empty_like(M), np.empty(3), 1e-30,
                        np.empty(3, np.float32), np.empty(3, np.float32),
                        np.empty((4, 3), np.float32))  # fmt: skip


def test_the_copy_is_taken_only_where_float32_is_safe_and_pays():
    K = np.empty((LOW_MIN // 64, 64))
    assert takes_copy(K, 1.0, 1.0, 1e-9)
    assert not takes_copy(K, LOW_SPREAD * 1.01, 1.0, 1e-9)  # float32 entries could underflow
    assert not takes_copy(K, 1.0, 1.0, SWITCH)  # a loose tol: the copy would be all the sweeps
    assert not takes_copy(K[:-1], 1.0, 1.0, 1e-9)  # too small to pay for the copy
    assert not takes_copy(K.astype(np.float32), 1.0, 1.0, 1e-9)  # float32 work has no copy


@pytest.mark.parametrize("seed", range(8))
def test_sinkhorn_with_the_copy_is_measured_and_agrees_with_pot(seed):
    rng = np.random.default_rng(seed + 100)
    n, m = int(rng.integers(100, 320)), int(rng.integers(100, 320))
    a, b, M = cloud_problem(n, m, seed=seed + 200, dim=int(rng.integers(1, 5)))
    scale = 10.0 ** rng.uniform(-2, 3)
    M = M * scale
    reg = scale * float(10.0 ** rng.uniform(-1.6, -0.7))
    tol = float(10.0 ** rng.uniform(-10, -7.5))
    _, _, _, sp = _kernel(M, reg, copy=False)
    assert sp <= LOW_SPREAD * reg and n * m >= LOW_MIN  # the copy is taken
    for method in ("kernel", "auto"):
        got = sinkhorn(a, b, M, reg, method=method, tol=tol)
        assert got.converged and got.method == "kernel"
        assert_balanced_plan_is_measured_and_right(got, a, b, M, reg, tol)


def test_the_sweeps_stay_on_the_copy_until_its_error_is_small():
    """A copy of another problem's kernel: its sweeps converge to that
    problem's plan until the copy's error is below SWITCH (several sweeps),
    so the sweeps on ``K`` that follow need about as many as from a cold
    start. A copy left after one sweep would cost one sweep."""
    a, b, M = cloud_problem(200, 150, seed=3)
    K, t, _, _ = _kernel(M, 0.05)
    _, _, M2 = cloud_problem(200, 150, seed=4)
    _, _, other, _ = _kernel(M2, 0.05)
    plain = _sweep(K, other[:0], a, b, t, 5000, 1e-10)
    got = _sweep(K, other, a, b, t, 5000, 1e-10)
    assert got[2] == 0 and got[1] <= 1e-10
    assert got[0] >= plain[0] + 5, (got[0], plain[0])


def _cost_of(K, M, u, v):
    return float(np.sum(u[:, None] * K * v[None, :] * M))


@pytest.mark.parametrize("seed", range(6))
def test_the_last_sweep_takes_the_cost_of_the_plan_it_returns(seed):
    """Where the last sweep took it, the cost is ``<P, M>`` of the plan
    returned (``u`` after the sweep, ``v`` before), as ``plan_cost`` and NumPy
    give it; it takes it on a converged solve (the error falls at a steady
    rate) and on the last of ``max_iter`` sweeps."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(5, 300)), int(rng.integers(5, 300))
    a, b, M = cloud_problem(n, m, seed=seed + 70)
    M = M * 10.0 ** rng.uniform(-2, 2)
    eps = float(M.max() * 10.0 ** rng.uniform(-1.5, -0.5))
    K, t, low, _ = _kernel(M, eps, copy=n * m >= LOW_MIN)
    for max_iter, tol in ((5000, 1e-9), (5000, 1e-11), (3, 1e-300), (1, 1e-300)):
        got = _sweep(K, low, a, b, t, max_iter, tol, C=M)
        assert got[2] in (0, 1) and not math.isnan(got[6])
        assert got[6] == pytest.approx(plan_cost(K, M, got[4], got[5]), rel=1e-13)
        assert got[6] == pytest.approx(_cost_of(K, M, got[4], got[5]), rel=1e-12)
    # no C (as the unbalanced sweeps pass): no cost taken
    assert math.isnan(_sweep(K, low, a, b, t, 5000, 1e-9)[6])


@pytest.mark.parametrize("seed", range(4))
def test_float32_work_takes_the_cost_in_its_last_sweep_too(seed):
    """float32 ``K`` and ``M``: the last sweep sums each row's ``K_ij v_j
    M_ij`` in float32 (64 partial sums, about ``m / 64 + 6`` ulps) and the rows
    in float64: the cost of the plan returned within 1e-6 relative of NumPy's
    float64 sum over the same float32 entries."""
    rng = np.random.default_rng(seed + 30)
    n, m = int(rng.integers(5, 700)), int(rng.integers(5, 700))
    a, b, M = cloud_problem(n, m, seed=seed + 90)
    M32 = (M * 10.0 ** rng.uniform(-2, 2)).astype(np.float32)
    eps = float(M32.max() * 10.0 ** rng.uniform(-1.5, -0.7))
    lo, hi = np.empty(m), np.empty(m)
    assert column_range(M32, lo, hi)
    K, t = np.empty_like(M32), np.empty(m)
    tiny = float(np.finfo(np.float32).tiny)
    build(M32, lo, spread(lo, hi), eps, K, t, tiny, np.empty(m, np.float32),
          np.empty(m, np.float32))  # fmt: skip
    taken = 0
    for max_iter, tol in ((5000, 1e-6), (1, 1e-300), (3, 1e-300)):
        u, v = np.empty(n), np.empty(m)
        vk, none = np.empty(m, np.float32), np.empty(0, np.float32)
        _, _, status, _, cost = sweeps(
            K, K[:0], M32, a, b, 1.0, 1.0, t[:0], u, v, t.copy(), max_iter, tol, 1, tiny,
            np.empty(m), vk, none, np.empty(m), np.empty(RATE_WINDOW + 1),
        )  # fmt: skip
        assert status == (0 if max_iter > 3 else 1)
        want = _cost_of(K.astype(np.float64), M32.astype(np.float64), u, v)
        assert plan_cost(K, M32, u, v) == pytest.approx(want, rel=1e-6)
        if max_iter <= 3 or not math.isnan(cost):  # the last of max_iter always takes it
            assert cost == pytest.approx(want, rel=1e-6)
            taken += 1
    assert taken >= 2


def test_a_sweep_that_took_the_cost_and_did_not_stop_leaves_no_stale_cost():
    """check_every = 3: sweeps that are not checked take no cost, and the
    cost returned is that of the last sweep, never of an earlier one."""
    a, b, M = cloud_problem(120, 90, seed=9)
    K, t, low, _ = _kernel(M, 0.08)
    for max_iter in range(1, 12):
        got = _sweep(K, low, a, b, t, max_iter, 1e-9, C=M, check_every=3)
        assert not math.isnan(got[6])
        assert got[6] == pytest.approx(plan_cost(K, M, got[4], got[5]), rel=1e-13)
