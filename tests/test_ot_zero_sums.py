"""A kernel-domain sweep whose row or column sum vanishes reports FAILED (the
caller redoes the solve in the log domain) instead of raising
``ZeroDivisionError`` from compiled code: the sweeps divide under NumPy's
error model (a zero sum gives inf, which the usability test catches)."""

from __future__ import annotations

import numpy as np

from otswarm.ot import _kernel
from otswarm.ot._scaling import FAILED

TINY = float(np.finfo(np.float64).tiny)


def _work(n, m):
    return dict(w=np.empty(m), vk=np.empty(m), vk_low=np.empty(m, np.float32), t0=np.empty(m),
                history=np.empty(_kernel.RATE_WINDOW + 1))  # fmt: skip


def test_a_column_whose_sum_vanishes_fails_the_sweeps_instead_of_raising():
    n, m = 3, 4
    K = np.ones((n, m))
    K[:, 2] = 0.0  # column 2 carries nothing, though t (K^T 1 on entry) says it does
    t = np.ones(m)
    a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    u, v = np.empty(n), np.empty(m)
    work = _work(n, m)
    n_iter, _, status, l1, _ = _kernel.sweeps(
        K, np.empty((0, m), np.float32), K[:0], a, b, 1.0, 1.0, None, u, v, t, 10, 1e-9, 1,
        TINY, work["w"], work["vk"], work["vk_low"], work["t0"], work["history"],
    )  # fmt: skip
    assert status == FAILED and n_iter == 1 and np.isinf(l1)


def test_a_row_whose_sum_vanishes_fails_the_unbalanced_sweeps_instead_of_raising():
    n, m = 3, 4
    K = np.ones((n, m))
    K[1] = 0.0  # row 1 carries nothing
    t = K.sum(axis=0)
    a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    u, v = np.empty(n), np.empty(m)
    work = _work(n, m)
    n_iter, _, status, l1, _ = _kernel.sweeps(
        K, np.empty((0, m), np.float32), K[:0], a, b, 0.9, 0.9, np.ones(m), u, v, t, 10, 1e-9, 1,
        TINY, work["w"], work["vk"], work["vk_low"], work["t0"], work["history"],
    )  # fmt: skip
    assert status == FAILED and n_iter == 1 and np.isinf(l1)
