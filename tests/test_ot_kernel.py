"""The kernel-domain fast path of ``sinkhorn``: the plan it returns, its stopping
test, over-relaxation, the factored plan, and the checked path it defers to."""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest
from ot_cases import cloud_problem

from otswarm.ot import OTInputError, sinkhorn
from otswarm.ot.result import FactoredPlan

pytestmark = pytest.mark.usefixtures("ot_warm")


def _violation(plan, a, b):
    """L2 norm of both marginal violations of ``plan``."""
    return float(np.hypot(np.linalg.norm(plan.sum(1) - a), np.linalg.norm(plan.sum(0) - b)))


def _random_problem(seed):
    """Varied sizes, weights (down to 1e-6 of the largest), cost scales, regs, tols."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 90)), int(rng.integers(2, 90))
    scale = 10.0 ** rng.uniform(-3, 3)
    M = scale * rng.random((n, m)) ** rng.uniform(0.5, 3)
    a = rng.random(n) ** rng.uniform(1, 6) + 1e-6
    b = rng.random(m) ** rng.uniform(1, 6) + 1e-6
    mass = 10.0 ** rng.uniform(-2, 2)
    a, b = mass * a / a.sum(), mass * b / b.sum()
    reg = scale * 10.0 ** rng.uniform(-1.5, 0.5)
    tol = 10.0 ** rng.uniform(-11, -5)
    return a, b, M, reg, tol, mass


@pytest.mark.parametrize("seed", range(40))
def test_converged_means_the_returned_plan_meets_tol_and_pot_agrees(seed):
    a, b, M, reg, tol, mass = _random_problem(seed)
    got = sinkhorn(a, b, M, reg, method="kernel", tol=tol, max_iter=20000)
    assert got.converged
    plan = got.plan
    assert np.all(np.isfinite(plan)) and np.all(plan >= 0)
    assert _violation(plan, a, b) <= tol * mass * (1 + 1e-6) + 1e-15 * mass
    assert got.cost == pytest.approx(float(np.sum(plan * M)), rel=1e-12)
    assert got.marginal_error == pytest.approx(
        np.abs(plan.sum(1) - a).sum() + np.abs(plan.sum(0) - b).sum(), rel=1e-3, abs=1e-13 * mass
    )
    want = ot.bregman.sinkhorn_log(a / mass, b / mass, M, reg, numItermax=100000, stopThr=1e-12)
    assert got.cost == pytest.approx(mass * float(np.sum(want * M)), rel=1e-5 + 10 * tol)


def test_over_relaxation_needs_fewer_sweeps_than_plain_sinkhorn():
    a, b, M = cloud_problem(60, 50, seed=21)
    got = sinkhorn(a, b, M, 0.02, method="kernel", tol=1e-9)
    _, log = ot.sinkhorn(a, b, M, 0.02, stopThr=1e-9, numItermax=10000, log=True)
    assert got.converged and got.n_iter < 0.7 * log["niter"]


def test_max_iter_stops_with_the_measured_plan():
    a, b, M = cloud_problem(30, 30, seed=22)
    got = sinkhorn(a, b, M, 0.01, method="kernel", max_iter=7)
    assert not got.converged and got.n_iter == 7
    assert got.marginal_error > 1e-9 and np.isfinite(got.cost)


def test_plan_is_factored_until_read_and_then_kept():
    a, b, M = cloud_problem(20, 15, seed=23)
    got = sinkhorn(a, b, M, 0.05)
    assert isinstance(got[0], FactoredPlan) and got[2] is got[3] is got[0]  # potentials too
    f = got.f
    assert f is got.f and got.g is got.g  # computed once
    first = got.plan
    assert first is got.plan and first.shape == (20, 15)
    rebuilt = np.exp((got.f[:, None] + got.g[None, :] - M) / got.reg)
    np.testing.assert_allclose(first, rebuilt, rtol=1e-9)
    np.testing.assert_array_equal(np.asarray(got[0]), first)


def test_plain_and_checked_input_give_the_same_result():
    a, b, M = cloud_problem(25, 18, seed=24)
    fast = sinkhorn(a, b, M, 0.05)
    checked = sinkhorn(a.tolist(), b.tolist(), M.tolist(), np.float64(0.05))
    assert fast.n_iter == checked.n_iter
    assert fast.cost == pytest.approx(checked.cost, rel=1e-14)
    np.testing.assert_allclose(fast.plan, checked.plan, rtol=1e-12)


@pytest.mark.parametrize(
    "a, M",
    [
        (np.array([0.5, np.nan, 0.5]), np.eye(3)),
        (np.array([0.5, 0.6, -0.1]), np.eye(3)),
        (np.full(3, 1 / 3), np.where(np.eye(3) > 0, np.inf, 1.0)),
    ],
)
def test_bad_plain_input_still_raises_the_typed_error(a, M):
    with pytest.raises(OTInputError):
        sinkhorn(a, np.full(3, 1 / 3), M, 0.1)


def test_float32_work_stays_close_to_float64():
    a, b, M = cloud_problem(300, 280, seed=25)
    c64 = sinkhorn(a, b, M, 0.05, method="kernel").cost
    got = sinkhorn(a.astype(np.float32), b.astype(np.float32), M.astype(np.float32), 0.05,
                   method="kernel")  # fmt: skip
    assert got.converged and got.plan.dtype == got.f.dtype == got.g.dtype == np.float32
    assert got.cost == pytest.approx(c64, rel=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_cost_anywhere_in_a_block_of_rows_is_caught(bad):
    """The cost check scans 4 rows at a time; 7 rows leave a partial block."""
    a, b = np.full(7, 1 / 7), np.full(5, 1 / 5)
    for i in range(7):
        for j in range(5):
            M = np.ones((7, 5))
            M[i, j] = bad
            with pytest.raises(OTInputError, match="M"):
                sinkhorn(a, b, M, 0.1)


def test_fast_exp_is_within_one_ulp_of_libm_and_flushes_below_tiny():
    from otswarm.ot._fastexp import fast_exp

    x = np.concatenate([np.linspace(-708.3, 709.0, 20001), np.linspace(-1.0, 1.0, 2001)])
    got = np.array([fast_exp(v, 0.0) for v in x])
    want = np.exp(x)
    assert np.all(np.abs(got - want) <= np.spacing(want))
    tiny = float(np.finfo(np.float32).tiny)
    assert fast_exp(math.log(tiny) - 0.01, tiny) == 0.0 < fast_exp(math.log(tiny) + 0.01, tiny)
    assert fast_exp(-800.0, 0.0) == 0.0


def test_fast_exp2_32_is_within_1_2_ulp_and_flushes_below_tiny():
    """The float32 build's ``exp``, in base 2 (its exponents carry ``log2 e``)."""
    from otswarm.ot._fastexp import fast_exp2_32

    one, three = np.float32(1.0), np.float32(3.0)
    x = np.linspace(-126.0, 127.0, 200001).astype(np.float32)
    got = np.array([fast_exp2_32(v, one, np.float32(0.0)) for v in x])
    assert np.array_equal(got.astype(np.float32), got)  # float32 work, float32 values
    exact = np.exp2(x.astype(np.float64))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(got - exact) / ulp) <= 1.2
    assert np.all(got[np.round(x) == x] == exact[np.round(x) == x])  # 2^k exactly
    # 2^(d s) with the product d s never rounded: d = x / 3 in float32, s = 3
    d = (x / three).astype(np.float32)
    got = np.array([fast_exp2_32(v, three, np.float32(0.0)) for v in d])
    exact = np.exp2(d.astype(np.float64) * 3.0)
    assert np.max(np.abs(got - exact) / np.spacing(exact.astype(np.float32))) <= 1.2
    tiny = np.float32(np.finfo(np.float32).tiny)  # 2^-126
    below, above = np.float32(-126.01), np.float32(-125.99)
    assert fast_exp2_32(below, one, tiny) == 0.0 < fast_exp2_32(above, one, tiny)


def _float32_problem(seed):
    """Varied float32 problems: n != m, uniform / random / sparse weights,
    reg 0.02-0.2 of the largest cost, cost scales over 6 decades."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(40, 400)), int(rng.integers(40, 400))
    scale = 10.0 ** rng.uniform(-3, 3)
    x, y = rng.random((n, 2)), rng.random((m, 2))
    M = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    M *= scale / M.max()
    kind = seed % 3
    a = np.ones(n) if kind == 0 else rng.random(n) ** (1 if kind == 1 else 6) + 1e-4
    b = np.ones(m) if kind == 0 else rng.random(m) ** (1 if kind == 1 else 6) + 1e-4
    a, b = a / a.sum(), b / b.sum()
    reg = scale * rng.uniform(0.02, 0.2)
    return a, b, M, reg


@pytest.mark.parametrize("seed", range(12))
def test_float32_work_meets_its_tol_and_the_float64_cost(seed):
    a, b, M, reg = _float32_problem(seed)
    c64 = sinkhorn(a, b, M, reg, method="kernel", max_iter=20000).cost
    a32, b32, M32 = a.astype(np.float32), b.astype(np.float32), M.astype(np.float32)
    got = sinkhorn(a32, b32, M32, reg, method="kernel", max_iter=20000)
    assert got.converged and got.plan.dtype == np.float32
    # the float32 plan, measured in float64, meets the float32 tolerance
    plan = got.plan.astype(np.float64)
    assert _violation(plan, a32.astype(np.float64), b32.astype(np.float64)) <= 1.05e-6
    assert got.cost == pytest.approx(c64, rel=1e-4)
