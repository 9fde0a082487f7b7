"""sinkhorn_batch and sinkhorn_unbalanced against POT."""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest
from ot_cases import cloud_problem

from otswarm.ot import sinkhorn, sinkhorn_batch, sinkhorn_unbalanced

pytestmark = pytest.mark.usefixtures("ot_warm")

# both stop at a marginal violation <= 1e-9 with max(M) = 1
RTOL64 = 1e-6


def _stack(P, n, m, seed, dtype=np.float64):
    problems = [cloud_problem(n, m, seed=seed + p, dtype=dtype) for p in range(P)]
    A = np.stack([pr[0] for pr in problems])
    B = np.stack([pr[1] for pr in problems])
    Ms = np.stack([pr[2] for pr in problems])
    return A, B, Ms


@pytest.mark.parametrize("method", ["kernel", "log"])
def test_batch_with_per_problem_costs_matches_pot(method):
    A, B, Ms = _stack(20, 16, 11, seed=100)
    got = sinkhorn_batch(A, B, Ms, 0.05, method=method)
    assert got.plan.shape == (20, 16, 11) and got.cost.shape == (20,)
    assert np.all(got.converged)
    want = [float(ot.sinkhorn2(A[p], B[p], Ms[p], 0.05, stopThr=1e-9)) for p in range(20)]
    np.testing.assert_allclose(got.cost, want, rtol=RTOL64)


def test_batch_with_shared_cost_equals_single_solves():
    A, B, Ms = _stack(12, 8, 8, seed=200)
    got = sinkhorn_batch(A, B, Ms[0], 0.01, max_iter=20000)
    for p in range(12):
        one = sinkhorn(A[p], B[p], Ms[0], 0.01, max_iter=20000)
        # the batch runs the very same compiled solver: results are identical
        np.testing.assert_allclose(got.plan[p], one.plan, rtol=1e-12, atol=1e-300)
        assert got.n_iter[p] == one.n_iter


def test_batch_lanes_match_single_solves_and_take_the_next_problem():
    A, B, Ms = _stack(150, 6, 5, seed=600)  # more problems than SIMD lanes (64)
    Ms[::7] *= 50.0  # these need the log domain under "auto"
    got = sinkhorn_batch(A, B, Ms, 0.05, max_iter=20000)
    assert got.method == "mixed" and np.all(got.converged)
    for p in range(150):
        one = sinkhorn(A[p], B[p], Ms[p], 0.05, max_iter=20000)
        # same iteration from the same start; only the summation order differs,
        # which can move the stop by one sweep when the error sits at tol
        assert abs(int(got.n_iter[p]) - one.n_iter) <= 1
        np.testing.assert_allclose(got.plan[p], one.plan, rtol=1e-7, atol=1e-12)
    short = sinkhorn_batch(A[:70], B[:70], Ms[:70], 0.05, method="kernel", max_iter=3)
    assert not short.converged.any() and np.all(short.n_iter == 3)
    assert np.all(np.isfinite(short.plan)) and np.all(np.isfinite(short.f))


def test_batch_zero_weights_and_float32():
    A, B, Ms = _stack(5, 10, 10, seed=300, dtype=np.float32)
    A[2, :3] = 0.0
    A[2] /= A[2].sum()
    got = sinkhorn_batch(A, B, Ms, 0.1)
    assert got.plan.dtype == np.float32 and np.all(got.converged)
    assert np.all(got.plan[2, :3] == 0.0)
    assert np.all(np.isfinite(got.f)) and np.all(np.isfinite(got.g))


UNBALANCED_CASES = [
    (0.1, 1.0, "kl"),
    (0.05, (0.5, 2.0), "kl"),
    (0.1, 0.3, "entropy"),
    (0.02, (math.inf, 1.0), "kl"),
]


@pytest.mark.filterwarnings("ignore:If reg_type = entropy")  # POT notes it ignores c
@pytest.mark.parametrize("reg, reg_m, reg_type", UNBALANCED_CASES)
def test_unbalanced_matches_pot(reg, reg_m, reg_type):
    a, b, M = cloud_problem(17, 12, seed=400)
    b *= 1.7  # unequal masses
    got = sinkhorn_unbalanced(a, b, M, reg, reg_m, reg_type=reg_type, max_iter=20000, tol=1e-12)
    want = ot.unbalanced.sinkhorn_unbalanced(
        a, b, M, reg, reg_m, reg_type=reg_type, numItermax=20000, stopThr=1e-13
    )
    assert got.converged
    # POT stops on a relative change of the scalings < 1e-13: plans agree to ~1e-9
    np.testing.assert_allclose(got.plan, want, atol=1e-9)
    assert got.cost == pytest.approx(float(np.sum(want * M)), rel=1e-6)


def test_unbalanced_zero_weight_and_float32():
    a, b, M = cloud_problem(10, 9, seed=500, dtype=np.float32)
    a[4] = 0.0
    got = sinkhorn_unbalanced(a, b, M, 0.1, 1.0)
    assert got.plan.dtype == np.float32 and got.converged
    assert np.all(got.plan[4] == 0.0) and np.all(np.isfinite(got.f))
    # with the KL reference a b^T a zero weight forces a zero row; POT divides
    # 0 by 0 there, so the reference is POT on the other rows
    keep = np.flatnonzero(a > 0)
    want = ot.unbalanced.sinkhorn_unbalanced(
        a[keep].astype(np.float64),
        b.astype(np.float64),
        M[keep].astype(np.float64),
        0.1,
        1.0,
        numItermax=5000,
        stopThr=1e-12,
    )
    # float32 plan entries are ~1e-2; 24-bit mantissas
    np.testing.assert_allclose(got.plan[keep], want, atol=1e-5)
