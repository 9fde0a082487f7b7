"""OT kernels against their POT twins on random inputs that ``bench_ot.py`` does not use.

The issue's targets hold for any input, not only for the benchmark's own
problems. This script draws its problems from ``--seed``: sizes around each
benchmark size (``n != m``), uniform, random and sparse weights (``u^6 +
1e-5``), point clouds of 1-4 dimensions from two different laws, costs scaled
over five decades (``reg`` is drawn relative to ``max M``), tolerances
1e-10 to 1e-7. Each row is a ``bench_ot.py`` row (same timing, POT in the
same process on the same inputs) plus ``m``, the drawn parameters, the
issue's ``target`` for that kernel and size and whether it was ``met``;
``summary`` counts the met rows per kernel. One core, as ``bench_ot.py``.

Usage: ``python bench/bench_ot_unseen.py [--seed 0] [--per-kernel K] [--only KERNEL ...]``
(``otswarm bench ot_unseen --json FILE`` runs this script).
"""

from __future__ import annotations

import os

for _key in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_key] = "1"  # before NumPy: no BLAS threads spinning next to the timed one
os.environ.setdefault("POT_BACKEND_DISABLE_TENSORFLOW", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_ot import MAX_ITER, load_average, ot, paired_times, rot, row  # noqa: E402

WEIGHTS = ("uniform", "random", "sparse")
# size bands around the benchmark's sizes and the target in each
KERNEL_BANDS = ((12, 24, 40.0), (48, 96, 10.0), (200, 320, 4.0), (900, 1100, 4.0))
LOG_BANDS = ((12, 24, 50.0), (48, 96, 50.0), (200, 320, 50.0), (700, 1000, 50.0))


def weights(rng, n, kind):
    """Weights of unit mass: ``uniform``, ``random`` (``u + 0.05``) or
    ``sparse`` (``u^6 + 1e-5``: a few points hold most of the mass)."""
    if kind == "uniform":
        w = np.ones(n)
    elif kind == "random":
        w = rng.random(n) + 0.05
    else:
        w = rng.random(n) ** 6 + 1e-5
    return w / w.sum()


def clouds(rng, n, m):
    """Squared distances between ``n`` uniform and ``m`` normal points of 1-4
    dimensions, divided by their largest value."""
    dim = int(rng.integers(1, 5))
    x, y = rng.random((n, dim)), rng.normal(0.5, 0.3, (m, dim))
    M = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return M / M.max()


def draw_pair(rng, low, high, reg_range):
    """A balanced problem of ``n`` in ``[low, high]`` and ``m`` within 15% of
    ``n``: ``(a, b, M, reg, tol, params)``, ``M`` scaled by ``10^U(-2, 3)``
    and ``reg`` drawn in ``reg_range`` relative to ``max M``."""
    n = int(rng.integers(low, high + 1))
    m = max(2, n + int(rng.integers(-(n * 15) // 100, (n * 15) // 100 + 1)))
    kind = WEIGHTS[int(rng.integers(len(WEIGHTS)))]
    scale = float(10.0 ** rng.uniform(-2, 3))
    rel_reg = float(np.exp(rng.uniform(*np.log(reg_range))))
    tol = float(10.0 ** rng.uniform(-10, -7))
    a, b, M = weights(rng, n, kind), weights(rng, m, kind), clouds(rng, n, m) * scale
    params = {"m": m, "weights": kind, "cost_scale": scale, "reg_rel": rel_reg}
    return a, b, M, rel_reg * scale, tol, params


def judged(r, target, params):
    """``r`` with the drawn parameters, the target and whether it was met, and
    the relative difference of the two costs."""
    cost_diff = abs(r["otswarm_cost"] - r["pot_cost"]) / max(abs(r["pot_cost"]), 1e-300)
    r.update(params, target=target, met=bool(r["ratio"] >= target), rel_cost_diff=cost_diff)
    return r


def pot_sinkhorn(a, b, M, reg, tol, method, iterations):
    """POT's cost and convergence; its iteration count goes to ``iterations``."""
    plan, log = ot.sinkhorn(
        a, b, M, reg, method=method, numItermax=MAX_ITER, stopThr=tol, log=True, warn=False
    )
    iterations[:] = [int(log["niter"])]
    return float(np.sum(plan * M)), bool(log["err"][-1] < tol)


def sinkhorn_case(rng, band, method):
    """``sinkhorn(method=...)`` against POT's ``sinkhorn`` / ``sinkhorn_log``."""
    low, high, target = band
    reg_range = (0.02, 0.2) if method == "kernel" else (0.004, 0.02)
    a, b, M, reg, tol, params = draw_pair(rng, low, high, reg_range)
    pot_method = "sinkhorn" if method == "kernel" else "sinkhorn_log"

    def ours():
        r = rot.sinkhorn(a, b, M, reg, method=method, max_iter=MAX_ITER, tol=tol)
        return r.cost, r.converged

    iters = rot.sinkhorn(a, b, M, reg, method=method, max_iter=MAX_ITER, tol=tol).n_iter
    budget = 0.3 if a.size < 700 else 0.0  # POT at ~1000 points: two runs
    pot_iters = []
    r = row(f"sinkhorn_{method}", a.size,
            *paired_times(ours, lambda: pot_sinkhorn(a, b, M, reg, tol, pot_method, pot_iters),
                          budget),
            reference=f"POT ot.sinkhorn(method={pot_method!r})", reg=reg, tol=tol,
            iters=(iters, pot_iters[0]))  # fmt: skip
    return judged(r, target, params)


def float32_case(rng):
    """float32 against float64 work of otswarm itself, same problem, n >= 256;
    the two costs must agree to 1e-4 relative (``rel_cost_diff``)."""
    a, b, M, reg, _, params = draw_pair(rng, 256, 1100, (0.02, 0.2))
    a32, b32, M32 = a.astype(np.float32), b.astype(np.float32), M.astype(np.float32)

    def solve(x, y, C):
        r = rot.sinkhorn(x, y, C, reg, method="kernel", max_iter=MAX_ITER)
        return float(r.cost), r.converged

    r = row("sinkhorn_kernel_float32", a.size,
            *paired_times(lambda: solve(a32, b32, M32), lambda: solve(a, b, M)),
            reference="otswarm float64", reg=reg,
            tol=1e-6)  # fmt: skip
    return judged(r, 1.7, params)


def batch_case(rng, count=1000, n=16):
    """``sinkhorn_batch`` of ``count`` problems of ``n x n`` against a loop of
    POT's ``sinkhorn2``; ``reg`` 0.01-0.3 relative, one weight kind per batch."""
    kind = WEIGHTS[int(rng.integers(len(WEIGHTS)))]
    rel_reg = float(np.exp(rng.uniform(np.log(0.01), np.log(0.3))))
    method = ("auto", "kernel")[int(rng.integers(2))]
    A = np.stack([weights(rng, n, kind) for _ in range(count)])
    B = np.stack([weights(rng, n, kind) for _ in range(count)])
    Ms = np.stack([clouds(rng, n, n) for _ in range(count)])
    tol = 1e-9

    def ours():
        r = rot.sinkhorn_batch(A, B, Ms, rel_reg, method=method, max_iter=MAX_ITER, tol=tol)
        return float(r.cost.sum()), bool(r.converged.all())

    def pot():
        costs = [ot.sinkhorn2(A[p], B[p], Ms[p], rel_reg, numItermax=MAX_ITER, stopThr=tol)
                 for p in range(count)]  # fmt: skip
        return float(np.sum(costs)), True

    r = row(f"sinkhorn_batch_{count}x", n, *paired_times(ours, pot, 0.0),
            reference="loop of POT ot.sinkhorn2", reg=rel_reg, tol=tol)  # fmt: skip
    return judged(r, 100.0, {"m": n, "weights": kind, "reg_rel": rel_reg, "method": method})


def unbalanced_case(rng):
    """``sinkhorn_unbalanced`` at n = 900-1200 against POT's, ``b`` of another
    mass (x 0.5-2), ``reg`` 0.02-0.2 relative, ``reg_m`` 0.3-10 (cost units)."""
    a, b, M, reg, _, params = draw_pair(rng, 900, 1200, (0.02, 0.2))
    scale = params["cost_scale"]
    b = b * rng.uniform(0.5, 2.0)
    reg_m = float(10.0 ** rng.uniform(-0.5, 1.0)) * scale
    tol = 1e-9

    def ours():
        r = rot.sinkhorn_unbalanced(a, b, M, reg, reg_m, max_iter=MAX_ITER, tol=tol)
        return r.cost, r.converged

    pot_iters = []

    def pot():
        plan, log = ot.unbalanced.sinkhorn_unbalanced(
            a, b, M, reg, reg_m, numItermax=MAX_ITER, stopThr=tol, log=True
        )
        pot_iters[:] = [len(log["err"])]  # POT tests every iteration
        return float(np.sum(plan * M)), bool(log["err"][-1] < tol)

    iters = rot.sinkhorn_unbalanced(a, b, M, reg, reg_m, max_iter=MAX_ITER, tol=tol).n_iter
    r = row("sinkhorn_unbalanced", a.size, *paired_times(ours, pot, 0.0),
            reference="POT ot.unbalanced.sinkhorn_unbalanced", reg=reg, tol=tol,
            iters=(iters, pot_iters[0]))  # fmt: skip
    return judged(r, 4.0, {**params, "reg_m": reg_m})


def barycenter_case(rng, n):
    """``barycenter`` of 2-6 bumps on a 1-D grid (uneven or even) against POT's
    ``barycenter(method="sinkhorn_log")``, random weights, reg 0.02-0.1."""
    k = int(rng.integers(2, 7))
    x = np.sort(rng.random(n)) if rng.random() < 0.7 else np.linspace(0.0, 1.0, n)
    M = (x[:, None] - x[None, :]) ** 2
    M /= M.max()
    centres, widths = rng.random((k, 1)), rng.uniform(0.005, 0.05, (k, 1))
    A = np.exp(-((x[None, :] - centres) ** 2) / widths) + 1e-4
    A /= A.sum(axis=1, keepdims=True)
    reg = float(rng.uniform(0.02, 0.1))
    w = rng.random(k)
    w /= w.sum()

    def ours():
        r = rot.barycenter(A, M, reg, weights=w, tol=1e-6, full=True)
        return float(r.barycenter @ x), r.converged

    def pot():
        bar = ot.bregman.barycenter(A.T, M, reg, weights=w, method="sinkhorn_log", stopThr=1e-6,
                                    warn=False)  # fmt: skip
        return float(bar @ x), True

    r = row("barycenter", n, *paired_times(ours, pot),
            reference="POT ot.bregman.barycenter(method='sinkhorn_log')", reg=reg,
            tol=1e-6)  # fmt: skip
    return judged(r, 4.0, {"m": n, "histograms": k})


def sliced_case(rng, n):
    """``sliced_wasserstein`` of 2-6-D clouds, ``m`` = n-1.5n points, 10-120
    projections, weighted or not, against POT with the same directions."""
    d, count = int(rng.integers(2, 7)), int(rng.integers(10, 121))
    m = n + int(rng.integers(0, n // 2 + 1))
    X, Y = rng.normal(size=(n, d)), rng.normal(0.3, 1.2, size=(m, d))
    a = b = None
    if rng.random() < 0.5:
        a, b = weights(rng, n, "random"), weights(rng, m, "random")
    theta = rot.sliced.directions(d, count, seed=1)

    def ours():
        return rot.sliced_wasserstein(X, Y, a, b, n_projections=count, seed=1), True

    def pot():
        return float(ot.sliced_wasserstein_distance(X, Y, a, b, projections=theta.T)), True

    r = row("sliced_wasserstein", n, *paired_times(ours, pot),
            reference="POT ot.sliced_wasserstein_distance")  # fmt: skip
    return judged(r, 3.0, {"m": m, "dim": d, "projections": count, "weighted": a is not None})


def emd_case(rng, n):
    """``emd`` against POT's ``emd2`` at n <= 256 (assignments when uniform and
    square); the costs must be the same (``rel_cost_diff``)."""
    kind = WEIGHTS[int(rng.integers(len(WEIGHTS)))]
    m = n if kind == "uniform" else max(2, n - int(rng.integers(0, 6)))
    a, b, M = weights(rng, n, kind), weights(rng, m, kind), clouds(rng, n, m)
    r = row("emd", n,
            *paired_times(lambda: (rot.emd(a, b, M).cost, True),
                          lambda: (float(ot.emd2(a, b, M)), True)),
            reference="POT ot.emd2")  # fmt: skip
    return judged(r, 1.0, {"m": m, "weights": kind})


def cases(per_kernel):
    """Kernel name -> list of ``(case function, its size arguments)``, ``per_kernel``
    draws per size band."""
    k = per_kernel
    return {
        "sinkhorn_kernel": [(sinkhorn_case, (band, "kernel")) for band in KERNEL_BANDS] * k,
        "sinkhorn_log": [(sinkhorn_case, (band, "log")) for band in LOG_BANDS] * k,
        "sinkhorn_kernel_float32": [(float32_case, ())] * (2 * k),
        "sinkhorn_batch": [(batch_case, ())] * k,
        "sinkhorn_unbalanced": [(unbalanced_case, ())] * (2 * k),
        "barycenter": [(barycenter_case, (n,)) for n in (16, 64, 256)] * k,
        "sliced_wasserstein": [(sliced_case, (n,)) for n in (16, 64, 256, 1024, 3000)] * k,
        "emd": [(emd_case, (n,)) for n in (16, 40, 100, 256)] * k,
    }


def summary(rows):
    """Per kernel: cases, met, the lowest ratio and its target."""
    out = {}
    for r in rows:
        s = out.setdefault(r["kernel"], {"cases": 0, "met": 0, "lowest_ratio": np.inf})
        s["cases"] += 1
        s["met"] += r["met"]
        if r["ratio"] < s["lowest_ratio"]:
            s["lowest_ratio"], s["its_target"] = r["ratio"], r["target"]
    return out


def print_document(settings: dict, rows: list, totals: dict) -> int:
    """Print a bench's JSON document (``settings``, ``summary``, ``results``)
    on stdout; returns the exit status 0."""
    print(json.dumps({"settings": settings, "summary": totals, "results": rows}, indent=2))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="draws every problem")
    parser.add_argument("--per-kernel", type=int, default=3, help="draws per size band")
    parser.add_argument("--only", nargs="+", choices=sorted(cases(1)), help="these kernels only")
    args = parser.parse_args(argv)
    plan = cases(args.per_kernel)
    chosen = args.only or list(plan)
    rot.warmup("all", dtypes=(np.float64, np.float32))
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_before = load_average()
    rows = []
    for name in chosen:
        rng = np.random.default_rng([args.seed, sorted(plan).index(name)])
        for case, size in plan[name]:
            rows.append(case(rng, *size))
            r = rows[-1]
            print(f"# {name} n={r['n']} m={r['m']}: {r['ratio']:.2f}x (target {r['target']}x)",
                  file=sys.stderr, flush=True)  # fmt: skip
    settings = {
        "seed": args.seed,
        "per_kernel": args.per_kernel,
        "max_iter": MAX_ITER,
        "threads": 1,
        "pot": ot.__version__,
        "started": started,
        "load_average_1min": [load_before, load_average()],
    }
    return print_document(settings, rows, summary(rows))


if __name__ == "__main__":
    sys.exit(main())
