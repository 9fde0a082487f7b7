"""The plain path of ``sinkhorn``: a cold balanced solve in one compiled call.

Most calls pass C-contiguous float64 (or float32) arrays, ``a`` (n,), ``b``
(m,) and ``M`` (n, m), of one dtype. For them the checks of the values
(finite, non-negative, equal masses, no zero weight) and of the options run
inside the compiled call, and the types are checked by Numba's dispatch
itself: :func:`solver` compiles :func:`checked_solve` for exactly one
signature per dtype and nothing else, so any other argument type (a list, a
strided or read-only array, mixed dtypes, a string) raises ``TypeError``
at the dispatch, before any work, and :mod:`.sinkhorn` takes the checked
path, which names the problem or solves on the support.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload
from numba.np import numpy_support

from otswarm.ot import _checks
from otswarm.ot._kernel import column_range
from otswarm.ot._scaling import FAILED
from otswarm.ot._solver import KERNEL_SPREAD, solve_problem


def dtype_constants(M) -> tuple[float, float, float]:
    """``(smallest normal number, mass tolerance, kernel spread)`` of the
    dtype of ``M`` (in compiled code, constants of the compiled signature)."""
    dtype = np.dtype(M.dtype)
    return float(np.finfo(dtype).tiny), _checks.MASS_RTOL[dtype], KERNEL_SPREAD[dtype]


@overload(dtype_constants)
def _dtype_constants(M):
    constants = dtype_constants(np.empty((1, 1), dtype=np.dtype(M.dtype.name)))
    return lambda M: constants


@njit(cache=True, inline="always")
def _weights(w):
    """``(sum, number of zeros, all finite and >= 0 with a positive sum)``."""
    total = 0.0
    zeros = 0
    good = True
    for x in w:
        good &= math.isfinite(x) & (x >= 0.0)
        total += x
        zeros += x == 0.0
    return total, zeros, good and total > 0.0


def checked_solve(a, b, M, buf, eps, mode, max_iter, tol, check_every):
    """:func:`._solver.solve_problem` of a cold balanced problem after the
    checks of :mod:`._checks`, in one compiled call; ``buf`` is the
    :attr:`.result.FactoredPlan.buffer` of the result (``u, v, alpha, beta``,
    then the kernel). Returns ``(mass, cost, marginal_error, n_iter, err,
    status, stabilised)``; ``mass`` is 0, and nothing is solved, when the
    shapes do not fit, an option is out of range (``eps``, ``tol`` not
    positive and finite, ``max_iter`` or ``check_every`` below 1), or the
    input is not finite, has a negative or zero weight, or unequal masses."""
    n, m = M.shape
    tiny, mass_rtol, kernel_spread = dtype_constants(M)
    if (a.shape[0] != n or b.shape[0] != m or n == 0 or m == 0 or not 0.0 < eps < np.inf
            or not 0.0 < tol < np.inf or max_iter < 1 or check_every < 1
            or buf.shape[0] < 2 * (n + m) + (n * m * M.itemsize + 7) // 8):  # fmt: skip
        return 0.0, 0.0, 0.0, 0, 0.0, FAILED, False
    work = np.empty(n + 3 * m)
    an, bn, lo, hi = work[:n], work[n : n + m], work[n + m : n + 2 * m], work[n + 2 * m :]
    finite = column_range(M, lo, hi)
    ma, zeros_a, good_a = _weights(a)
    mb, zeros_b, good_b = _weights(b)
    same = abs(ma - mb) <= mass_rtol * max(ma, mb)
    if not (finite and good_a and good_b and same and zeros_a + zeros_b == 0):
        return 0.0, 0.0, 0.0, 0, 0.0, FAILED, False
    for i in range(n):
        an[i] = a[i] / ma
    for j in range(m):
        bn[j] = b[j] / ma
    K = buf[2 * (n + m) :].view(M.dtype)[: n * m].reshape((n, m))
    cost, marginal_error, n_iter, err, status, stabilized = solve_problem(
        M, lo[:0], lo[:0], an, bn, eps, ma, buf[n + m : 2 * n + m],
        buf[2 * n + m : 2 * (n + m)], False, mode, kernel_spread, True, np.inf, np.inf,
        max_iter, tol, check_every, tiny, K, buf[:n], buf[n : n + m], lo, hi,
    )  # fmt: skip
    return ma, cost, marginal_error, n_iter, err, status, stabilized


def signature(dtype: np.dtype) -> tuple:
    """The one argument signature of :func:`checked_solve` for ``dtype``:
    C-contiguous ``a, b`` (1-D) and ``M`` (2-D) of that dtype, a float64 work
    buffer, ``eps``, ``mode``, ``max_iter``, ``tol``, ``check_every`` (a
    float ``tol``, not ``None``: Numba unboxes an optional argument through
    a slower path)."""
    scalar = numpy_support.from_dtype(dtype)
    vector, matrix = types.Array(scalar, 1, "C"), types.Array(scalar, 2, "C")
    buffer = types.Array(types.float64, 1, "C")
    return (vector, vector, matrix, buffer, types.float64, types.int64, types.int64,
            types.float64, types.int64)  # fmt: skip


SOLVERS = {}  # dtype -> checked_solve compiled for signature(dtype) only
REFUSED = (0.0,)  # what sinkhorn takes for the outcome when the dispatch refuses the types


def solver(dtype: np.dtype):
    """:func:`checked_solve` compiled for :func:`signature` of ``dtype``, and
    for no other types (loaded from the cache after the first run); ``None``
    for a dtype without a plain path (not float64 or float32)."""
    compiled = SOLVERS.get(dtype)
    if compiled is None and dtype in KERNEL_SPREAD:
        compiled = SOLVERS[dtype] = njit([signature(dtype)], cache=True)(checked_solve)
    return compiled
