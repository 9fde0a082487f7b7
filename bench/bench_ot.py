"""OT kernels of otswarm.ot against their POT twins, same process, same inputs.

Prints one JSON document: for each kernel and size ``n`` the best-of-k CPU
time of otswarm and of its reference (POT, or otswarm in float64 for the
float32 rows), the ratio ``reference_s / otswarm_s`` (> 1: otswarm is
faster), both costs, both convergence flags and iteration counts, the row's
``reg`` and tolerance, the energy of one solve on each board profile (CPU
seconds times the profile's ``per_core_w``), ott-jax (jit, CPU, one thread) as
a second peer of the Sinkhorn rows where it is installed (``pip install
otswarm[bench]``), plus the cold start (first compile, and import +
``warmup()`` from the Numba cache) measured in fresh processes, and the
per-call fixed cost of ``sinkhorn`` at n = 16 (``fixed_cost``). One core:
``NUMBA_NUM_THREADS=1`` and single-threaded BLAS.

Usage: ``python bench/bench_ot.py [--sizes 16 64 256 1024] [--quick] [--batch 1000]
[--no-cold-start] [--no-ott]``
(``otswarm bench ot --json FILE`` runs this script and renders a table).
"""

from __future__ import annotations

import os

for _key in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_key] = "1"
os.environ.setdefault("POT_BACKEND_DISABLE_TENSORFLOW", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ot  # noqa: E402
from numba import njit  # noqa: E402

import otswarm.ot as rot  # noqa: E402
from bench import ott_peer  # noqa: E402
from otswarm.energy.profile import list_profiles, load_profile  # noqa: E402
from otswarm.ot import _plain  # noqa: E402

SIZES = (16, 64, 256, 1024)
REG_KERNEL = 0.05  # relative to max(M) = 1
REG_LOG = 0.01
TOL = 1e-9
MAX_ITER = 1000
BUDGET_S = 0.3  # repeat a measurement until this much time is spent (at least 2 readings)
READING_S = 2e-3  # a reading of the CPU clock times calls in a row for about this long
PER_CORE_W = {p.id: p.per_core_w for p in map(load_profile, list_profiles())}


class Readings:
    """Readings of the CPU time of one ``fn()``, and its last return value.

    CPU time of this (single-threaded) process rather than wall time: on the
    shared, loaded machine wall time mostly measures the other jobs. Each
    reading times ``reps`` calls in a row, ``reps`` chosen from a first call
    so that a reading lasts about ``reading_s``: one read of the CPU clock
    costs about 0.7 µs, a sixth of a 5 µs solve if each call were read on
    its own."""

    def __init__(self, fn, reading_s=READING_S):
        self.fn = fn
        t0 = time.process_time()
        self.out = fn()
        self.reps = max(1, int(reading_s / max(time.process_time() - t0, 1e-7)))
        self.times = []

    def read(self) -> None:
        fn, reps = self.fn, self.reps
        t0 = time.process_time()
        for _ in range(reps):
            self.out = fn()
        self.times.append((time.process_time() - t0) / reps)

    def wants_more(self, elapsed: float, budget: float, max_runs: int) -> bool:
        """At least 2 readings, then more while ``elapsed < budget``."""
        return len(self.times) < 2 or (elapsed < budget and len(self.times) < max_runs)

    def best(self) -> tuple[float, object]:
        return max(min(self.times), 1e-7), self.out


def best_time(fn, budget=BUDGET_S, max_runs=50, reading_s=READING_S):
    """Best CPU time of one ``fn()`` over readings for about ``budget`` seconds
    (at least 2), and its last return value (:class:`Readings`)."""
    readings = Readings(fn, reading_s)
    start = time.perf_counter()
    while readings.wants_more(time.perf_counter() - start, budget, max_runs):
        readings.read()
    return readings.best()


def paired_times(ours, ref, ref_budget=BUDGET_S, budget=BUDGET_S, max_runs=50):
    """:func:`best_time` of ``ours`` and of ``ref``, their readings taken in
    turn (one of each per round), so that a stretch of load from the other
    jobs falls on the readings of both sides, not on one side's only (taken
    one side after the other, ratios moved by 1.2-2.3x between two runs of
    the same code on the shared machine). ``ref`` reads for ``ref_budget`` (0:
    its 2 readings, for references of a second a call), ``ours`` for
    ``budget + ref_budget``; returns ``(ours, ref)`` as :func:`row` takes them."""
    sides = ((Readings(ours), budget + ref_budget), (Readings(ref), ref_budget))
    start = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        due = [r for r, limit in sides if r.wants_more(elapsed, limit, max_runs)]
        if not due:
            return sides[0][0].best(), sides[1][0].best()
        for readings in due:
            readings.read()


def problem(n, seed=0, dim=2):
    rng = np.random.default_rng(seed)
    x, y = rng.random((n, dim)), rng.random((n, dim))
    M = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    M /= M.max()
    a, b = rng.random(n) + 0.1, rng.random(n) + 0.1
    return a / a.sum(), b / b.sum(), M


def row(kernel, n, ours, ref, *, reference="POT", reg=None, tol=None, iters=(None, None)):
    """One result row; ``ours``/``ref`` are ``(seconds, (cost, converged))``."""
    (t_ours, (c_ours, ok_ours)), (t_ref, (c_ref, ok_ref)) = ours, ref
    return {
        "kernel": kernel,
        "n": n,
        "reference": reference,
        "reg": reg,
        "tol": tol,
        "otswarm_s": t_ours,
        "pot_s": t_ref,
        "ratio": t_ref / t_ours,
        "otswarm_cost": c_ours,
        "pot_cost": c_ref,
        "otswarm_converged": ok_ours,
        "pot_converged": ok_ref,
        "otswarm_iters": iters[0],
        "pot_iters": iters[1],
        "energy_j": {
            board: {"otswarm": w * t_ours, "reference": w * t_ref}
            for board, w in PER_CORE_W.items()
        },
    }


def with_ott(r, peer, a, b, M, reg, log_domain):
    """Add the ott-jax columns to a Sinkhorn row (same inputs, reg, tol)."""
    if peer is None:
        return r
    peer.sinkhorn(a, b, M, reg, log_domain=log_domain, tol=TOL, max_iter=MAX_ITER)  # compile
    t, (cost, ok, iters) = best_time(
        lambda: peer.sinkhorn(a, b, M, reg, log_domain=log_domain, tol=TOL, max_iter=MAX_ITER)
    )
    r.update(ott_s=t, ott_ratio=t / r["otswarm_s"], ott_cost=cost, ott_converged=ok,
             ott_iters=iters)  # fmt: skip
    return r


def pot_sinkhorn(a, b, M, reg, method):
    plan, log = ot.sinkhorn(
        a, b, M, reg, method=method, numItermax=MAX_ITER, stopThr=TOL, log=True, warn=False
    )
    return float(np.sum(plan * M)), bool(log["err"][-1] < TOL)


def pot_iterations(a, b, M, reg, method):
    _, log = ot.sinkhorn(
        a, b, M, reg, method=method, numItermax=MAX_ITER, stopThr=TOL, log=True, warn=False
    )
    return int(log["niter"])


def bench_sinkhorn(n, method, reg, peer):
    a, b, M = problem(n)
    pot_method = "sinkhorn" if method == "kernel" else "sinkhorn_log"

    def ours():
        r = rot.sinkhorn(a, b, M, reg, method=method, max_iter=MAX_ITER, tol=TOL)
        return r.cost, r.converged

    budget = BUDGET_S if n < 1024 or method == "kernel" else 0.0
    iters = (rot.sinkhorn(a, b, M, reg, method=method, max_iter=MAX_ITER, tol=TOL).n_iter,
             pot_iterations(a, b, M, reg, pot_method))  # fmt: skip
    r = row(f"sinkhorn_{method}", n,
            *paired_times(ours, lambda: pot_sinkhorn(a, b, M, reg, pot_method), budget),
            reference=f"POT ot.{'sinkhorn' if method == 'kernel' else 'bregman.sinkhorn_log'}",
            reg=reg, tol=TOL, iters=iters)  # fmt: skip
    return with_ott(r, peer, a, b, M, reg, method == "log")


def bench_float32(n, reg=REG_KERNEL):
    """float32 against float64 work of otswarm itself (same problem)."""
    a, b, M = problem(n)
    a32, b32, M32 = a.astype(np.float32), b.astype(np.float32), M.astype(np.float32)

    def solve(x, y, C):
        r = rot.sinkhorn(x, y, C, reg, method="kernel", max_iter=MAX_ITER)
        return float(r.cost), r.converged

    it32 = rot.sinkhorn(a32, b32, M32, reg, method="kernel", max_iter=MAX_ITER).n_iter
    it64 = rot.sinkhorn(a, b, M, reg, method="kernel", max_iter=MAX_ITER).n_iter
    return row("sinkhorn_kernel_float32", n,
               *paired_times(lambda: solve(a32, b32, M32), lambda: solve(a, b, M)),
               reference="otswarm float64", reg=reg,
               tol=1e-6, iters=(it32, it64))  # fmt: skip


def bench_batch(n=16, count=1000):
    problems = [problem(n, seed=s) for s in range(count)]
    A = np.stack([p[0] for p in problems])
    B = np.stack([p[1] for p in problems])
    Ms = np.stack([p[2] for p in problems])

    def ours():
        r = rot.sinkhorn_batch(A, B, Ms, REG_KERNEL, method="kernel", max_iter=MAX_ITER, tol=TOL)
        return float(r.cost.sum()), bool(r.converged.all())

    def pot():
        costs = [
            ot.sinkhorn2(A[p], B[p], Ms[p], REG_KERNEL, numItermax=MAX_ITER, stopThr=TOL)
            for p in range(count)
        ]
        return float(np.sum(costs)), True

    its = rot.sinkhorn_batch(A, B, Ms, REG_KERNEL, method="kernel", max_iter=MAX_ITER, tol=TOL)
    return row(f"sinkhorn_batch_{count}x", n, *paired_times(ours, pot, 0.0),
               reference="loop of POT ot.sinkhorn2", reg=REG_KERNEL, tol=TOL,
               iters=(int(its.n_iter.sum()), None))  # fmt: skip


def bench_unbalanced(n, reg=REG_KERNEL, reg_m=1.0):
    a, b, M = problem(n)
    b = 1.5 * b

    def ours():
        r = rot.sinkhorn_unbalanced(a, b, M, reg, reg_m, max_iter=MAX_ITER, tol=TOL)
        return r.cost, r.converged

    def pot():
        plan, log = ot.unbalanced.sinkhorn_unbalanced(
            a, b, M, reg, reg_m, numItermax=MAX_ITER, stopThr=TOL, log=True
        )
        return float(np.sum(plan * M)), bool(log["err"][-1] < TOL)

    _, log = ot.unbalanced.sinkhorn_unbalanced(
        a, b, M, reg, reg_m, numItermax=MAX_ITER, stopThr=TOL, log=True
    )
    iters = (rot.sinkhorn_unbalanced(a, b, M, reg, reg_m, max_iter=MAX_ITER, tol=TOL).n_iter,
             len(log["err"]))  # fmt: skip
    return row("sinkhorn_unbalanced", n, *paired_times(ours, pot),
               reference="POT ot.unbalanced.sinkhorn_unbalanced", reg=reg, tol=TOL,
               iters=iters)  # fmt: skip


def bench_barycenter(n, reg=REG_KERNEL, k=4):
    x = np.linspace(0.0, 1.0, n)
    M = (x[:, None] - x[None, :]) ** 2
    A = np.stack([np.exp(-((x - c) ** 2) / 0.02) for c in np.linspace(0.2, 0.8, k)])
    A /= A.sum(axis=1, keepdims=True)

    def ours():
        r = rot.barycenter(A, M, reg, tol=1e-6, full=True)
        return float(r.barycenter @ x), r.converged

    def pot():
        bar = ot.bregman.barycenter(A.T, M, reg, method="sinkhorn_log", stopThr=1e-6, warn=False)
        return float(bar @ x), True

    _, log = ot.bregman.barycenter(A.T, M, reg, method="sinkhorn_log", stopThr=1e-6, warn=False,
                                   log=True)  # fmt: skip
    iters = (rot.barycenter(A, M, reg, tol=1e-6, full=True).n_iter, int(log["niter"]))
    return row("barycenter", n, *paired_times(ours, pot),
               reference="POT ot.bregman.barycenter(method='sinkhorn_log')", reg=reg, tol=1e-6,
               iters=iters)  # fmt: skip


def bench_divergence(n, reg=REG_KERNEL):
    """Three solves each; POT debiases ``<P, M>``, otswarm ``OT_reg`` (entropy
    included), so the two values differ by definition."""
    rng = np.random.default_rng(2)
    X, Y = rng.random((n, 2)), rng.random((n, 2))
    a, b = rng.random(n) + 0.1, rng.random(n) + 0.1
    a, b = a / a.sum(), b / b.sum()
    sq = lambda P, Q: ((P[:, None, :] - Q[None, :, :]) ** 2).sum(-1)  # noqa: E731
    Ms = sq(X, Y), sq(X, X), sq(Y, Y)

    def ours():
        return rot.sinkhorn_divergence(a, b, *Ms, reg, tol=TOL), True

    def pot():
        value = ot.bregman.empirical_sinkhorn_divergence(X, Y, reg, a, b, numIterMax=MAX_ITER,
                                                         stopThr=TOL)  # fmt: skip
        return float(value), True

    return row("sinkhorn_divergence", n, *paired_times(ours, pot),
               reference="POT ot.bregman.empirical_sinkhorn_divergence", reg=reg,
               tol=TOL)  # fmt: skip


def bench_exact(n):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=n), rng.normal(0.5, 1.0, size=n)
    X, Y = rng.normal(size=(n, 3)), rng.normal(0.3, 1.0, size=(n, 3))
    theta = rot.sliced.directions(3, 50, seed=0)
    rows = [
        row(
            "wasserstein_1d",
            n,
            *paired_times(
                lambda: (rot.wasserstein_1d(x, y, p=2), True),
                lambda: (float(ot.wasserstein_1d(x, y, p=2)) ** 0.5, True),
            ),
            reference="POT ot.wasserstein_1d",
        ),
        row(
            "sliced_wasserstein",
            n,
            *paired_times(
                lambda: (rot.sliced_wasserstein(X, Y, n_projections=50, seed=0), True),
                lambda: (float(ot.sliced_wasserstein_distance(X, Y, projections=theta.T)), True),
            ),
            reference="POT ot.sliced_wasserstein_distance",
        ),
    ]
    if n <= 256:  # exact OT is for small problems
        a, b, M = problem(n)
        rows.append(
            row(
                "emd",
                n,
                *paired_times(
                    lambda: (rot.emd(a, b, M).cost, True),
                    lambda: (float(ot.emd2(a, b, M)), True),
                ),
                reference="POT ot.emd2",
                iters=(rot.emd(a, b, M).n_iter, None),  # simplex pivots
            )
        )
    return rows


def _returns_at_once(a, b, M, buf, eps, mode, max_iter, tol, check_every):
    return 1.0, 0.0, 0.0, 1, 1.0, 1, False  # a solve that stopped after max_iter = 1


@functools.cache
def _floor_solver():
    """:func:`_returns_at_once` compiled for the plain path's float64
    signature (:func:`otswarm.ot._plain.signature`, 9 arguments) without NRT,
    as :func:`otswarm.ot._plain.checked_kernel_solve` is."""
    return njit([_plain.signature(np.dtype(np.float64))], _nrt=False)(_returns_at_once)


@contextlib.contextmanager
def call_floor():
    """Within it, a float64 ``sinkhorn`` call costs what any call of its plain
    path costs on this machine around the solve: the plain path's compiled
    pair (``_plain.SOLVERS``) is :func:`_floor_solver`, which returns what a
    one-sweep solve returns, at once, so what runs is ``sinkhorn``'s own
    Python (its type checks, the result's buffer, the result record) and a
    compiled call of 9 arguments that checks and solves nothing."""
    dtype = np.dtype(np.float64)
    solvers = _plain.solvers(dtype)
    _plain.SOLVERS[dtype] = (_floor_solver(), _floor_solver())
    try:
        yield
    finally:
        _plain.SOLVERS[dtype] = solvers


def fixed_cost(n=16, calls=30000, further=20, blocks=10):
    """The per-call fixed cost of ``sinkhorn`` at ``n`` (kernel domain): what a
    call costs beyond its sweeps (checks, setup and build, the result).

    ``perf_counter`` around each of ``calls`` calls that stop after one sweep
    (``max_iter=1``), alternating with as many that run ``1 + further``
    sweeps (a ``tol`` no solve reaches) and as many one-sweep calls within
    :func:`call_floor`, so all three see the same load, in ``blocks`` blocks of calls in a row.
    From the 5th percentiles of a block (a call without the other jobs'
    interruptions), in µs: ``p5_us`` the one-sweep call, ``per_sweep_us =
    (p5(1 + further) - p5(1)) / further`` and ``fixed_us = p5_us -
    per_sweep_us``, of the block with the least ``p5_us`` (load on the other
    core of the pair slows every call for seconds at a time: a whole run of
    30000 calls once ran 1.5x slower); ``fixed_us_blocks`` has every
    block's, ``median_us`` is the one-sweep call's median over all calls.
    ``floor_us`` (``floor_us_blocks``) is the p5 of the calls within
    :func:`call_floor` in that block: the part of ``fixed_us`` that is
    this machine's price of ``sinkhorn``'s Python and a compiled call of its
    shape, which no work in the compiled solver can remove."""
    calls -= calls % blocks  # blocks of equal size
    a, b, M = problem(n)
    solve = rot.sinkhorn
    unreachable = 1e-300
    solve(a, b, M, REG_KERNEL, max_iter=1)
    solve(a, b, M, REG_KERNEL, max_iter=1 + further, tol=unreachable)
    with call_floor():
        solve(a, b, M, REG_KERNEL, max_iter=1)
    one, more, bare = np.empty(calls), np.empty(calls), np.empty(calls)
    clock = time.perf_counter
    for k in range(calls):
        t0 = clock()
        solve(a, b, M, REG_KERNEL, max_iter=1)
        t1 = clock()
        solve(a, b, M, REG_KERNEL, max_iter=1 + further, tol=unreachable)
        t2 = clock()
        with call_floor():
            t3 = clock()
            solve(a, b, M, REG_KERNEL, max_iter=1)
            t4 = clock()
        one[k], more[k], bare[k] = t1 - t0, t2 - t1, t4 - t3
    p5 = np.percentile(one.reshape(blocks, -1), 5, axis=1) * 1e6
    per_sweep = (np.percentile(more.reshape(blocks, -1), 5, axis=1) * 1e6 - p5) / further
    floors = np.percentile(bare.reshape(blocks, -1), 5, axis=1) * 1e6
    best = int(np.argmin(p5))
    return {"n": n, "calls": calls, "max_iter": 1, "blocks": blocks, "p5_us": float(p5[best]),
            "median_us": float(np.median(one)) * 1e6, "further_sweeps": further,
            "per_sweep_us": float(per_sweep[best]),
            "fixed_us": float(p5[best] - per_sweep[best]),
            "fixed_us_blocks": (p5 - per_sweep).tolist(),
            "floor_us": float(floors[best]), "floor_us_blocks": floors.tolist()}  # fmt: skip


def cold_start():
    """Seconds for import + warmup() in a fresh process: with an empty Numba
    cache (compiling everything) and with the cache filled by that run."""
    code = "import otswarm.ot as o; print(o.warmup())"
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        for key in ("compile_s", "cached_s"):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", code], env=env, check=True, cwd=ROOT, capture_output=True
            )
            out[key] = time.perf_counter() - t0
    return out


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--quick", action="store_true", help="skip the extra kernels")
    parser.add_argument("--batch", type=int, default=1000, help="problems in the batch row")
    parser.add_argument("--no-cold-start", action="store_true", help="skip the cold start")
    parser.add_argument("--no-ott", action="store_true", help="leave ott-jax out")
    args = parser.parse_args(argv)
    rot.warmup("all", dtypes=(np.float64, np.float32))
    peer = None if args.no_ott else ott_peer.load()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_before = load_average()
    rows = []
    for n in args.sizes:
        rows.append(bench_sinkhorn(n, "kernel", REG_KERNEL, peer))
        rows.append(bench_sinkhorn(n, "log", REG_LOG, peer))
        print(f"# n={n} done", file=sys.stderr, flush=True)
    rows.append(bench_batch(count=args.batch))
    if not args.quick:
        for n in args.sizes:
            if n >= 256:
                rows.append(bench_float32(n))
            rows.append(bench_unbalanced(n))
            if n <= 256:
                rows.append(bench_barycenter(n))
                rows.append(bench_divergence(n))
            rows.extend(bench_exact(n))
    doc = {
        "settings": {
            "reg_kernel": REG_KERNEL,
            "reg_log": REG_LOG,
            "tol": TOL,
            "max_iter": MAX_ITER,
            "dtype": "float64",
            "threads": 1,
            "pot": ot.__version__,
            "ott_jax": None if peer is None else peer.version,
            "per_core_w": PER_CORE_W,
            "started": started,
            "load_average_1min": [load_before, load_average()],
        },
        "fixed_cost": fixed_cost(),
        "cold_start": None if args.no_cold_start else cold_start(),
        "results": rows,
    }
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
