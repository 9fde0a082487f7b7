"""Compile the common signatures ahead of the first real solve.

Every kernel is compiled with ``cache=True``, so a board pays the compile cost
once (the cache lives next to the sources, in ``__pycache__``); ``warmup()``
runs each public solver once on tiny float64 and float32 problems so that
later calls in this process, and later processes, start hot.
"""

from __future__ import annotations

import time

import numpy as np


def warmup() -> float:
    """Run every solver once in float64 and float32; returns the seconds spent
    (compiling on the first run on a board, loading the cache afterwards)."""
    from otswarm.ot import (
        barycenter,
        sinkhorn,
        sinkhorn_batch,
        sinkhorn_unbalanced,
        sliced_wasserstein,
        wasserstein_1d,
    )

    start = time.perf_counter()
    x = np.linspace(0.0, 1.0, 4)
    for dtype in (np.float64, np.float32):
        M = ((x[:, None] - x[None, :]) ** 2).astype(dtype)
        w = np.full(4, 0.25, dtype=dtype)
        for method in ("kernel", "log"):
            sinkhorn(w, w, M, 0.1, method=method)
            sinkhorn_batch(np.stack([w, w]), np.stack([w, w]), M, 0.1, method=method)
        sinkhorn_unbalanced(w, w, M, 0.1, 1.0)
        barycenter(np.stack([w, w]), M, 0.1)
    wasserstein_1d(x, x[::-1])
    sliced_wasserstein(np.stack([x, x], axis=1), np.stack([x, x], axis=1), n_projections=2, seed=0)
    return time.perf_counter() - start
