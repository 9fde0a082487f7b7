"""Compile the kernels a process will call ahead of its first real solve.

Every kernel is compiled with ``cache=True``, so a board pays the compile cost
once (the cache lives next to the sources, in ``__pycache__``); ``warmup()``
runs the chosen solvers once on tiny problems (and reads the potentials, which
a scaling solver computes on first read) so that later calls in this process,
and later processes, start hot. By default only what the agent calls
(allocation, drift, clustering) is loaded, in float64: the batch and
barycenter kernels, and the float32 signatures, cost memory on a board that
never runs them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np

from otswarm.ot.errors import OTInputError

# what runtime/coordination calls: allocation, drift, clustering (float64 inputs)
AGENT_KERNELS = ("sinkhorn", "sinkhorn_unbalanced", "wasserstein_1d", "sliced_wasserstein", "emd")
ALL_KERNELS = (*AGENT_KERNELS, "sinkhorn_batch", "barycenter", "sinkhorn_divergence")


def _runs(w: np.ndarray, M: np.ndarray, x: np.ndarray):
    """One call per kernel name on the tiny problem ``(w, w, M)`` / points ``x``."""
    from otswarm import ot

    W, X = np.stack([w, w]), np.stack([x, x], axis=1)
    return {
        # .f: the potentials of a factored result are computed on first read
        "sinkhorn": lambda: [ot.sinkhorn(w, w, M, 0.1, method=k).f for k in ("kernel", "log")],
        "sinkhorn_unbalanced": lambda: ot.sinkhorn_unbalanced(w, w, M, 0.1, 1.0),
        "wasserstein_1d": lambda: (ot.wasserstein_1d(x, x[::-1]), ot.wasserstein_1d(x, x, w, w)),
        "sliced_wasserstein": lambda: (
            ot.sliced_wasserstein(X, X, n_projections=2, seed=0),
            ot.sliced_wasserstein(X, X, w, w[::-1], n_projections=2, seed=0),
        ),
        "emd": lambda: ot.emd(w, w[::-1].copy(), M),
        "sinkhorn_batch": lambda: [  # plans and potentials are computed on first read
            (r.plan, r.f)
            for r in (ot.sinkhorn_batch(W, W, M, 0.1, method=k) for k in ("kernel", "log"))
        ],
        "barycenter": lambda: ot.barycenter(W, M, 0.1),
        "sinkhorn_divergence": lambda: ot.sinkhorn_divergence(w, w, M, M, M, 0.1),
    }


def warmup(kernels: Iterable[str] | str = AGENT_KERNELS, dtypes: Iterable = (np.float64,)) -> float:
    """Run each solver named in ``kernels`` (``"all"``: :data:`ALL_KERNELS`) once
    per dtype in ``dtypes``; returns the seconds spent (compiling on the first
    run on a board, loading the cache afterwards).

    Raises:
        OTInputError: an unknown kernel name or a dtype other than float64/float32.
    """
    names = ALL_KERNELS if kernels == "all" else tuple(kernels)
    unknown = sorted(set(names) - set(ALL_KERNELS))
    if unknown:
        raise OTInputError(f"kernels: unknown {unknown}; expected names from {ALL_KERNELS}")
    dtypes = [np.dtype(d) for d in dtypes]
    if any(d not in (np.float64, np.float32) for d in dtypes):
        raise OTInputError(f"dtypes: expected float64 and/or float32, got {dtypes}")
    start = time.perf_counter()
    x = np.linspace(0.0, 1.0, 4)
    for dtype in dtypes:
        M = ((x[:, None] - x[None, :]) ** 2).astype(dtype)
        w = np.array([0.1, 0.2, 0.3, 0.4], dtype=dtype)
        runs = _runs(w, M, x.astype(dtype))
        for name in names:
            runs[name]()
    return time.perf_counter() - start
