"""Kernel entries flushed to 0 never change the problem that is solved.

The kernel domain flushes entries below the dtype's smallest normal number
(``_fastexp``). Where the scalings grow wide enough, a flushed entry would
carry real mass, and sweeps on the flushed kernel converge to the plan of
another problem: ``method="kernel"`` then goes to the log domain
(``_kernel.flush_harmless``). The log domain recomputes its kernel from the
potentials at each absorption, so an entry flushed while the potentials were
far off comes back (``_scaling.absorb``); and a column sum that vanished
there no longer raises ``ZeroDivisionError``.

The references are float64 log-domain solves at ``tol=1e-11``; float64 costs
agree to ``1e-7`` relative, float32 ones to ``1e-4`` (the issue's bound).
"""

from __future__ import annotations

import numpy as np
import pytest

from otswarm.ot import sinkhorn, sinkhorn_batch


def _reference(a, b, M, reg):
    ref = sinkhorn(a, b, M, reg, method="log", max_iter=20000, tol=1e-11)
    assert ref.converged
    return ref.cost


def _few_columns(seed, rel_reg, n=40, m=8):
    """Far-apart targets: the kernel spreads over thousands of ``reg`` and the
    scalings of the few columns grow wide."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, 2)), 2.0 * rng.normal(size=(m, 2))
    M = ((x[:, None] - y[None]) ** 2).sum(-1)
    a, b = rng.random(n) + 0.05, rng.random(m) + 0.05
    return a / a.sum(), b / b.sum(), M, rel_reg * float(M.max())


# (dtype, seed, reg / max M, relative tolerance): the old code returned
# converged kernel-domain plans whose costs were off by 5.5e-3 and 1.4e-3
FEW_COLUMNS = [(np.float64, 12, 4e-4, 1e-7), (np.float32, 193, 2e-3, 1e-4)]


@pytest.mark.parametrize(("dtype", "seed", "rel_reg", "rtol"), FEW_COLUMNS)
def test_a_kernel_request_whose_flushed_entries_matter_is_solved_in_the_log_domain(
    dtype, seed, rel_reg, rtol
):
    a, b, M, reg = _few_columns(seed, rel_reg)
    got = sinkhorn(a.astype(dtype), b.astype(dtype), M.astype(dtype), reg, method="kernel",
                   max_iter=20000)  # fmt: skip
    assert got.converged and got.method == "log"
    assert got.cost == pytest.approx(_reference(a, b, M, reg), rel=rtol)


@pytest.mark.parametrize(("dtype", "seed", "rel_reg", "rtol"), FEW_COLUMNS)
def test_the_batch_redoes_such_problems_stabilised(dtype, seed, rel_reg, rtol):
    a, b, M, reg = _few_columns(seed, rel_reg)
    A, B = np.stack([a] * 3).astype(dtype), np.stack([b] * 3).astype(dtype)
    got = sinkhorn_batch(A, B, M.astype(dtype), reg, method="kernel", max_iter=20000)
    assert got.converged.all() and got.method == "log"
    np.testing.assert_allclose(got.cost, _reference(a, b, M, reg), rtol=rtol)


def test_a_flushed_kernel_with_moderate_scalings_stays_in_the_kernel_domain():
    """Flushing alone is no reason to leave: a 1-D problem at 2000 ``reg``
    (far past float64's floor of 708) keeps its kernel-domain solve."""
    x = np.linspace(0.0, 1.0, 30)
    M = (x[:, None] - x[None, :]) ** 2
    a = b = np.full(30, 1.0 / 30)
    got = sinkhorn(a, b, M, 1.0 / 2000.0, method="kernel", max_iter=100000)
    assert got.converged and got.method == "kernel"
    assert got.cost == pytest.approx(_reference(a, b, M, 1.0 / 2000.0), rel=1e-7)


def _vanishing_weight(seed, n=20, m=25):
    """Sparse weights and one target of weight 1e-20 (float32 holds it):
    float32 log-domain stages flush that column to 0 on the way."""
    rng = np.random.default_rng(seed)
    x, y = rng.random((n, 2)), rng.random((m, 2))
    M = ((x[:, None] - y[None]) ** 2).sum(-1)
    a, b = rng.random(n) ** 6 + 1e-5, rng.random(m) ** 6
    b[0] = 1e-20
    return a / a.sum(), b / b.sum(), M, float(M.max()) / 1000.0


@pytest.mark.parametrize("seed", range(8))
def test_float32_log_domain_solves_with_a_vanishing_weight_match_float64(seed):
    """The old code raised ZeroDivisionError on these (a column sum of 0 in
    the stabilised column update) and, where it did not, could return a
    converged plan 7% off: the absorption multiplied flushed entries, which
    stayed 0 for good."""
    a, b, M, reg = _vanishing_weight(seed)
    a32, b32, M32 = a.astype(np.float32), b.astype(np.float32), M.astype(np.float32)
    got = sinkhorn(a32, b32, M32, reg, method="log", max_iter=5000)
    assert got.converged and np.all(np.isfinite(got.plan))
    assert got.cost == pytest.approx(_reference(a, b, M, reg), rel=1e-4)
