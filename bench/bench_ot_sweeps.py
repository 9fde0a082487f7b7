"""Sweeps of the kernel-domain solvers on drawn problems: no timing, the same
numbers on any machine.

What a change to the over-relaxation (``_kernel.EARLY_RATE``,
``RELAX_START``, ...) or to the float32 copy does to the work is the number
of sweeps it takes, and that number does not depend on the machine's load.
This script draws ``--problems`` balanced problems as ``bench_ot_unseen.py``
does (sizes in four bands from 12 to 1100, ``n != m``, uniform, random and
sparse weights, costs over five decades, ``reg`` 0.02-0.2 of the largest
cost, tolerances 1e-10 to 1e-7) and solves each with ``sinkhorn(method=
"kernel")`` in float64 and in float32 (at its default ``tol``, 1e-6: the
drawn ones are below what float32 rounding lets every problem reach, as in
``bench_ot_unseen.py``'s float32 rows) and with ``sinkhorn_unbalanced``
(``b`` of another mass, x 0.5-2, ``reg_m`` 0.3-10 cost units). Each row has
the sweeps of the three and of POT's plain Sinkhorn on the float64 problem
(``ot.sinkhorn``, which tests its error every 10 iterations: its count is a
multiple of 10); ``summary`` gives the totals and ``ratio_to_pot`` (our
float64 sweeps over POT's). Run it on two checkouts with the same seed to
compare them problem by problem.

Usage: ``python bench/bench_ot_sweeps.py [--seed 1] [--problems 400]``
(``otswarm bench ot_sweeps --json FILE`` runs this script).
"""

from __future__ import annotations

import os

for _key in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_key] = "1"
os.environ.setdefault("POT_BACKEND_DISABLE_TENSORFLOW", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_ot import MAX_ITER, ot, rot  # noqa: E402
from bench.bench_ot_unseen import KERNEL_BANDS, draw_pair, print_document  # noqa: E402
from otswarm.ot import _kernel  # noqa: E402

SOLVERS = ("float64", "float32", "unbalanced")


def solve_all(rng, band):
    """One drawn problem: its parameters and the sweeps (and convergence) of
    each solver and of POT's ``ot.sinkhorn``."""
    a, b, M, reg, tol, params = draw_pair(rng, band[0], band[1], (0.02, 0.2))
    mass = float(rng.uniform(0.5, 2.0))
    reg_m = float(10.0 ** rng.uniform(-0.5, 1.0)) * params["cost_scale"]
    cast = [x.astype(np.float32) for x in (a, b, M)]
    runs = {
        "float64": rot.sinkhorn(a, b, M, reg, method="kernel", max_iter=MAX_ITER, tol=tol),
        "float32": rot.sinkhorn(*cast, reg, method="kernel", max_iter=MAX_ITER),
        "unbalanced": rot.sinkhorn_unbalanced(a, b * mass, M, reg, reg_m, max_iter=MAX_ITER,
                                              tol=tol),
    }  # fmt: skip
    _, log = ot.sinkhorn(a, b, M, reg, numItermax=MAX_ITER, stopThr=tol, log=True, warn=False)
    row = {"n": a.size, **params, "reg": reg, "tol": tol, "mass_b": mass, "reg_m": reg_m}
    for name, r in runs.items():
        row[name] = {"sweeps": int(r.n_iter), "converged": bool(r.converged)}
    row["pot"] = {"sweeps": int(log["niter"]), "converged": bool(log["err"][-1] < tol)}
    return row


def summary(rows):
    """Per solver: problems, total sweeps, how many converged; and our float64
    sweeps over POT's."""
    out = {
        name: {
            "problems": len(rows),
            "sweeps": sum(r[name]["sweeps"] for r in rows),
            "converged": sum(r[name]["converged"] for r in rows),
        }
        for name in (*SOLVERS, "pot")
    }
    out["ratio_to_pot"] = out["float64"]["sweeps"] / max(out["pot"]["sweeps"], 1)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="draws every problem")
    parser.add_argument("--problems", type=int, default=400, help="problems, over the bands")
    args = parser.parse_args(argv)
    if args.problems < 1:
        parser.error("--problems must be at least 1")
    rng = np.random.default_rng(args.seed)
    rows = []
    for k in range(args.problems):
        rows.append(solve_all(rng, KERNEL_BANDS[k % len(KERNEL_BANDS)]))
        if (k + 1) % 50 == 0 or k + 1 == args.problems:
            print(f"# {k + 1}/{args.problems} problems", file=sys.stderr, flush=True)
    constants = ("RELAX_START", "EARLY_START", "EARLY_RATE", "STEADY", "REFRESH", "SWITCH")
    settings = {
        "seed": args.seed,
        "problems": args.problems,
        "max_iter": MAX_ITER,
        "pot": ot.__version__,
        **{name.lower(): getattr(_kernel, name) for name in constants},
    }
    return print_document(settings, rows, summary(rows))


if __name__ == "__main__":
    sys.exit(main())
