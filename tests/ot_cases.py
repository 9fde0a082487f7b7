"""Problem generators shared by the tests/test_ot_*.py modules."""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest


def cloud_problem(n: int, m: int, seed: int, dim: int = 2, dtype=np.float64):
    """Random weights and a squared-Euclidean cost between random points,
    scaled so that ``max(M) = 1`` (``reg`` values in the tests are then
    relative to ``max(M)``)."""
    rng = np.random.default_rng(seed)
    x, y = rng.random((n, dim)), rng.random((m, dim))
    M = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    M /= M.max()
    a, b = rng.random(n) + 0.05, rng.random(m) + 0.05
    return (a / a.sum()).astype(dtype), (b / b.sum()).astype(dtype), M.astype(dtype)


def assert_balanced_plan_is_measured_and_right(got, a, b, M, reg, tol):
    """``got`` (a balanced ``sinkhorn`` result) returns the plan whose marginal
    violation (L2, as the stopping test) it measured, at most ``tol``, and its
    cost is POT's (run to 1e-13) within ``1e-5 + 10 tol`` relative."""
    plan = got.plan
    violation = math.hypot(np.linalg.norm(plan.sum(1) - a), np.linalg.norm(plan.sum(0) - b))
    assert violation <= tol * (1 + 1e-6) + 1e-15
    want = ot.sinkhorn(a, b, M, reg, numItermax=100000, stopThr=1e-13)
    assert got.cost == pytest.approx(float(np.sum(want * M)), rel=1e-5 + 10 * tol)


def assert_unbalanced_plan_is_right(got, a, b, M, reg, rho):
    """``got`` (an unbalanced solve to ``tol`` about 1e-9) is POT's plan (POT
    stops on a relative change of the scalings below 1e-14): entries within
    1e-5 relative (``1e-9 / M.size`` absolute), cost within 1e-6."""
    want = ot.unbalanced.sinkhorn_unbalanced(a, b, M, reg, rho, numItermax=100000, stopThr=1e-14)
    np.testing.assert_allclose(got.plan, want, rtol=1e-5, atol=1e-9 / M.size)
    assert got.cost == pytest.approx(float(np.sum(want * M)), rel=1e-6)
