"""sinkhorn_batch's SIMD lanes and its deferred plans, against single solves and POT."""

from __future__ import annotations

import threading

import numpy as np
import ot
import pytest
from ot_cases import cloud_problem

from otswarm.ot import sinkhorn, sinkhorn_batch
from otswarm.ot._batch_plan import BatchPlan
from otswarm.ot.batch import _unit_rows

pytestmark = pytest.mark.usefixtures("ot_warm")


def _stack(P, n, m, seed, dtype=np.float64):
    problems = [cloud_problem(n, m, seed=seed + p, dtype=dtype) for p in range(P)]
    return tuple(np.stack([pr[k] for pr in problems]) for k in range(3))


def _violation_l1(plan, a, b):
    return np.abs(plan.sum(1) - a).sum() + np.abs(plan.sum(0) - b).sum()


@pytest.mark.parametrize(
    "P, n, m, reg, seed",
    [(70, 16, 16, 0.2, 1), (90, 12, 20, 0.05, 2), (65, 5, 9, 0.5, 3), (40, 32, 8, 0.02, 4)],
)
def test_lanes_give_the_single_solves_plans_potentials_and_errors(P, n, m, reg, seed):
    A, B, Ms = _stack(P, n, m, seed)
    got = sinkhorn_batch(A, B, Ms, reg, method="kernel")
    assert got.method == "kernel" and np.all(got.converged)
    assert got.plan.shape == (P, n, m) and got.f.shape == (P, n) and got.g.shape == (P, m)
    for p in range(P):
        one = sinkhorn(A[p], B[p], Ms[p], reg, method="kernel")
        # the same sweeps from the same start; only the summation order differs,
        # which can move the stop by one sweep when the error sits at tol
        assert abs(int(got.n_iter[p]) - one.n_iter) <= 1
        np.testing.assert_allclose(got.plan[p], one.plan, rtol=1e-7, atol=1e-13)
        np.testing.assert_allclose(got.f[p], one.f, rtol=0, atol=1e-8 * reg)
        np.testing.assert_allclose(got.g[p], one.g, rtol=0, atol=1e-8 * reg)
        # the cost and the L1 marginal error are those of the plan returned
        assert got.cost[p] == pytest.approx(float(np.sum(got.plan[p] * Ms[p])), rel=1e-12)
        want = _violation_l1(got.plan[p], A[p], B[p])
        assert got.marginal_error[p] == pytest.approx(want, rel=1e-6, abs=1e-15)
        # the potentials are the plan's: P = exp((f + g - M) / reg)
        rebuilt = np.exp((got.f[p][:, None] + got.g[p][None, :] - Ms[p]) / reg)
        np.testing.assert_allclose(rebuilt, got.plan[p], rtol=1e-9, atol=1e-300)


def test_batch_costs_match_a_pot_loop_on_uniform_and_sparse_weights():
    rng = np.random.default_rng(7)
    P, n = 80, 16
    _, _, Ms = _stack(P, n, n, seed=50)
    A = np.where(np.arange(P)[:, None] % 2 == 0, 1.0, rng.random((P, n)) ** 6 + 1e-5)
    B = np.where(np.arange(P)[:, None] % 3 == 0, 1.0, rng.random((P, n)) ** 6 + 1e-5)
    A /= A.sum(1, keepdims=True)
    B /= B.sum(1, keepdims=True)
    for reg in (0.01, 0.1, 0.5):
        got = sinkhorn_batch(A, B, Ms, reg, max_iter=20000)
        assert np.all(got.converged)
        # both stop at a marginal violation <= 1e-9 with max(M) = 1
        want = [
            float(ot.sinkhorn2(A[p], B[p], Ms[p], reg, numItermax=20000, stopThr=1e-9))
            for p in range(P)
        ]
        np.testing.assert_allclose(got.cost, want, rtol=1e-6)


def test_plans_are_rebuilt_from_a_private_copy_of_the_costs():
    A, B, Ms = _stack(10, 8, 7, seed=60)
    shared = Ms[0].copy()
    per_problem = sinkhorn_batch(A, B, Ms, 0.1)
    one_cost = sinkhorn_batch(A, B, shared, 0.1)
    want = [sinkhorn(A[p], B[p], Ms[p], 0.1).plan for p in range(10)]
    want_shared = [sinkhorn(A[p], B[p], shared, 0.1).plan for p in range(10)]
    Ms[:] = 5.0  # the caller reuses its arrays before reading the plans
    shared[:] = 5.0
    for p in range(10):
        np.testing.assert_allclose(per_problem.plan[p], want[p], rtol=1e-7, atol=1e-13)
        np.testing.assert_allclose(one_cost.plan[p], want_shared[p], rtol=1e-7, atol=1e-13)


def test_a_row_sum_that_underflows_goes_to_the_log_domain():
    A, B, Ms = _stack(70, 6, 6, seed=70)
    far = [3, 40, 69]
    Ms[far, 0, :] += 1.0  # at reg 0.001 that row's kernel entries flush to 0: K v = 0
    got = sinkhorn_batch(A, B, Ms, 0.001, method="kernel", max_iter=20000)
    assert got.method == "mixed" and np.all(got.converged)
    for p in far:
        one = sinkhorn(A[p], B[p], Ms[p], 0.001, method="log", max_iter=20000)
        assert got.cost[p] == pytest.approx(one.cost, rel=1e-9)
        np.testing.assert_allclose(got.plan[p], one.plan, rtol=1e-6, atol=1e-12)
        assert np.all(np.isfinite(got.f[p])) and np.all(np.isfinite(got.g[p]))
    near = 5
    one = sinkhorn(A[near], B[near], Ms[near], 0.001, method="kernel", max_iter=20000)
    assert got.cost[near] == pytest.approx(one.cost, rel=1e-9)


def test_mixed_batch_holds_log_domain_and_zero_weight_plans():
    A, B, Ms = _stack(30, 7, 6, seed=80)
    Ms[::4] *= 80.0  # auto puts these in the log domain
    A[5, 2] = 0.0
    A[5] /= A[5].sum()
    B[9, :2] = 0.0
    B[9] /= B[9].sum()
    got = sinkhorn_batch(A, B, Ms, 0.05, max_iter=20000)
    assert got.method == "mixed" and np.all(got.converged)
    assert isinstance(got[0], BatchPlan) and got[0] is got[2] is got[3]
    assert got.plan is got.plan  # computed once
    assert np.all(got.plan[5, 2] == 0.0) and np.all(got.plan[9, :, :2] == 0.0)
    for p in range(30):
        one = sinkhorn(A[p], B[p], Ms[p], 0.05, max_iter=20000)
        np.testing.assert_allclose(got.plan[p], one.plan, rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(got.f[p], one.f, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(got.g[p], one.g, rtol=1e-7, atol=1e-9)


def test_float32_batch_plans_and_potentials_stay_float32():
    A, B, Ms = _stack(70, 10, 12, seed=90, dtype=np.float32)
    got = sinkhorn_batch(A, B, Ms, 0.1)
    assert got.plan.dtype == np.float32 and got.f.dtype == np.float32
    for p in range(0, 70, 9):
        one = sinkhorn(A[p], B[p], Ms[p], 0.1)
        np.testing.assert_allclose(got.plan[p], one.plan, rtol=1e-4, atol=1e-7)
        assert got.cost[p] == pytest.approx(one.cost, rel=1e-5)


def test_check_every_reports_convergence_only_on_a_checked_sweep():
    A, B, Ms = _stack(70, 9, 9, seed=95)
    got = sinkhorn_batch(A, B, Ms, 0.1, check_every=4)
    assert np.all(got.converged) and np.all((got.n_iter - 1) % 4 == 0)
    for p in range(0, 70, 13):
        one = sinkhorn(A[p], B[p], Ms[p], 0.1, check_every=4)
        assert abs(int(got.n_iter[p]) - one.n_iter) <= 4


def test_two_threads_reading_the_plans_get_the_same_arrays():
    A, B, Ms = _stack(200, 16, 16, seed=99)
    got = sinkhorn_batch(A, B, Ms, 0.1)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append((got.plan, got.f))) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(s[0] is seen[0][0] and s[1] is seen[0][1] for s in seen)


def test_a_batch_of_one_and_a_batch_with_no_kernel_domain_problem():
    A, B, Ms = _stack(3, 6, 5, seed=110)
    single = sinkhorn_batch(A[:1], B[:1], Ms[:1], 0.1)
    one = sinkhorn(A[0], B[0], Ms[0], 0.1)
    assert single.plan.shape == (1, 6, 5) and single.n_iter[0] == one.n_iter
    np.testing.assert_allclose(single.plan[0], one.plan, rtol=1e-12, atol=1e-300)
    A[:, 0] = 0.0  # every problem has a zero weight: none runs in the lanes
    A /= A.sum(1, keepdims=True)
    got = sinkhorn_batch(A, B, Ms, 0.1)
    assert np.all(got.converged) and np.all(got.plan[:, 0] == 0.0)
    for p in range(3):
        np.testing.assert_allclose(got.plan[p], sinkhorn(A[p], B[p], Ms[p], 0.1).plan, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_unit_rows_are_numpys_division_and_zero_test_bit_for_bit(dtype):
    rng = np.random.default_rng(11)
    A, B = rng.random((40, 7)).astype(dtype), rng.random((40, 5)).astype(dtype)
    A[3, 0] = A[9, 6] = B[17, 0] = B[31, 4] = 0.0  # first and last weights of either side
    masses = A.sum(axis=1, dtype=np.float64)
    A_n, B_n = np.full(A.shape, np.nan), np.full(B.shape, np.nan)
    zeros = _unit_rows(A, B, masses, A_n, B_n)
    np.testing.assert_array_equal(zeros, (A == 0).any(axis=1) | (B == 0).any(axis=1))
    assert sorted(np.flatnonzero(zeros)) == [3, 9, 17, 31]
    np.testing.assert_array_equal(A_n, np.divide(A, masses[:, None], dtype=np.float64))
    np.testing.assert_array_equal(B_n, np.divide(B, masses[:, None], dtype=np.float64))
