"""Problem generators shared by the tests/test_ot_*.py modules."""

from __future__ import annotations

import numpy as np


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
