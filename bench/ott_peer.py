"""ott-jax (jit, CPU, one thread, float64) as a second peer of ``bench_ot.py``.

Optional: ``pip install otswarm[bench]``. :func:`load` returns ``None`` when
ott-jax is not installed, and the benchmark then leaves the ott columns out.
"""

from __future__ import annotations

import os

# one XLA thread, before jax is imported
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)


class OttPeer:
    """Jitted ``ott.solvers.linear.sinkhorn`` with POT-like arguments."""

    def __init__(self, jax, jnp, geometry, linear_problem, sinkhorn):
        self.jax, self.jnp = jax, jnp
        self._geometry, self._problem, self._sinkhorn = geometry, linear_problem, sinkhorn
        self._compiled = {}
        self.version = __import__("ott").__version__

    def _solver(self, lse_mode: bool, tol: float, max_iter: int):
        key = (lse_mode, tol, max_iter)
        if key not in self._compiled:
            solver = self._sinkhorn.Sinkhorn(
                lse_mode=lse_mode, threshold=tol, norm_error=2, max_iterations=max_iter
            )

            def solve(a, b, M, reg):
                geom = self._geometry.Geometry(cost_matrix=M, epsilon=reg)
                out = solver(self._problem.LinearProblem(geom, a, b))
                cost = self.jnp.sum(out.matrix * M)
                return cost, out.converged, out.n_iters

            self._compiled[key] = self.jax.jit(solve)
        return self._compiled[key]

    def sinkhorn(self, a, b, M, reg, *, log_domain: bool, tol: float, max_iter: int):
        """``(cost <P, M>, converged, iterations)``; the first call compiles."""
        solve = self._solver(log_domain, tol, max_iter)
        cost, converged, n_iter = solve(a, b, M, reg)
        return float(cost.block_until_ready()), bool(converged), int(n_iter)


def load() -> OttPeer | None:
    try:
        import jax
        import jax.numpy as jnp
        from ott.geometry import geometry
        from ott.problems.linear import linear_problem
        from ott.solvers.linear import sinkhorn
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return OttPeer(jax, jnp, geometry, linear_problem, sinkhorn)
