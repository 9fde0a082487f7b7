"""The plain path of ``sinkhorn``: a cold balanced solve in one compiled call.

Most calls pass C-contiguous float64 (or float32) arrays, ``a`` (n,), ``b``
(m,) and ``M`` (n, m), of one dtype. For them the checks of the values
(finite, non-negative, equal masses, no zero weight) and of the options run
inside the compiled call, and the types are checked by Numba's dispatch
itself: :func:`solvers` compiles :func:`checked_kernel_solve` and
:func:`checked_solve` for exactly one signature per dtype and nothing else,
so any other argument type (a list, a strided or read-only array, mixed
dtypes, a string) raises ``TypeError`` at the dispatch, before any work,
and :mod:`.sinkhorn` takes the checked path, which names the problem or
solves on the support.

Both solve in ``buf``, the result's :attr:`.result.FactoredPlan.buffer`,
which ``sinkhorn`` allocates (``np.empty``, uninitialised) with room for the
solve's work after the plan: ``factored_size(n, m, M.itemsize) + n + 3 m +
work_size(m)`` float64 entries in all (``u, v, alpha, beta, K``, then ``an,
bn, lo, hi`` and :func:`._solver.work_size`'s work, :data:`HISTORY` last;
:func:`_views`); a shorter one is refused (:func:`_options_fit`). The
result keeps that room, ``n + 10 m + 4`` entries more than its plan.

A problem of fewer than :data:`SMALL` entries goes to
:func:`checked_kernel_solve` first: compiled without NRT, its work in the
result's buffer, it costs no allocation and no reference
count (each an atomic operation; they were 14% of the samples of a loop
of 16 x 16 calls); what it leaves (the log domain) goes to
:func:`checked_solve`, compiled with NRT, which allocates.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload
from numba.np import numpy_support

from otswarm.ot import _checks
from otswarm.ot import _kernel as kernels
from otswarm.ot._kernel import LOW_MIN, RATE_WINDOW, column_range
from otswarm.ot._scaling import FAILED
from otswarm.ot._solver import AUTO, KERNEL_SPREAD, LOG, kernel_solve, solve_problem, work_size
from otswarm.ot.result import factored_size

NEEDS_LOG = -1.0  # the mass checked_kernel_solve returns when checked_solve is to solve
REFUSED_OUTCOME = (0.0, 0.0, 0.0, 0, 0.0, FAILED, False)  # a check failed: nothing solved
LOG_OUTCOME = (NEEDS_LOG, 0.0, 0.0, 0, 0.0, FAILED, False)  # checked, for checked_solve


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


@njit(cache=True, inline="always")
def _views(M, buf, fits):
    """``u, v, alpha, beta, K`` (the result's) and ``an, bn, lo, hi, work``
    (the solve's), views of ``buf`` (the module's layout); when not ``fits``
    (``buf`` may be short), ``K`` has no rows."""
    n, m = M.shape
    plan = factored_size(n, m, M.itemsize)
    u, v = buf[:n], buf[n : n + m]
    alpha, beta = buf[n + m : 2 * n + m], buf[2 * n + m : 2 * (n + m)]
    rows = n if fits else 0
    K = buf[2 * (n + m) :].view(M.dtype)[: rows * m].reshape((rows, m))
    an, bn = buf[plan : plan + n], buf[plan + n : plan + n + m]
    lo, hi = buf[plan + n + m : plan + n + 2 * m], buf[plan + n + 2 * m : plan + n + 3 * m]
    return u, v, alpha, beta, K, an, bn, lo, hi, buf[plan + n + 3 * m :]


@njit(cache=True, inline="always")
def _options_fit(a, b, M, buf, eps, max_iter, tol, check_every):
    """Whether the shapes fit (``buf`` as long as the module's layout) and the
    options are in range (``eps``, ``tol`` positive and finite, ``max_iter``
    and ``check_every`` at least 1)."""
    n, m = M.shape
    room = factored_size(n, m, M.itemsize) + n + 3 * m + work_size(m)
    return (a.shape[0] == n and b.shape[0] == m and n > 0 and m > 0 and 0.0 < eps < np.inf
            and 0.0 < tol < np.inf and max_iter >= 1 and check_every >= 1
            and buf.shape[0] >= room)  # fmt: skip


@njit(cache=True, inline="always")
def _unit_problem(a, b, M, an, bn, lo, hi, work):
    """The checks of :mod:`._checks` on the values of a cold balanced
    problem, the column ranges ``lo, hi`` of ``M`` (``work``, not yet in use,
    the pass's scratch) and ``an, bn = a / mass, b / mass``. Returns the mass;
    0 when the input is not finite, has a negative or zero weight, or
    unequal masses."""
    mass_rtol = dtype_constants(M)[1]
    finite = column_range(M, lo, hi, work)
    ma, zeros_a, good_a = _weights(a)
    mb, zeros_b, good_b = _weights(b)
    same = abs(ma - mb) <= mass_rtol * max(ma, mb)
    if not (finite and good_a and good_b and same and zeros_a + zeros_b == 0):
        return 0.0
    for i in range(an.shape[0]):
        an[i] = a[i] / ma
    for j in range(bn.shape[0]):
        bn[j] = b[j] / ma
    return ma


@njit(cache=True, inline="always")
def _prepared(a, b, M, buf, eps, max_iter, tol, check_every):
    """``(mass, *views)``: the views of ``buf`` (:func:`_views`) and the mass
    of the problem after every check (:func:`_options_fit`,
    :func:`_unit_problem`), with ``an, bn, lo, hi`` written; the mass is 0
    when a check fails."""
    fits = _options_fit(a, b, M, buf, eps, max_iter, tol, check_every)
    u, v, alpha, beta, K, an, bn, lo, hi, work = _views(M, buf, fits)
    ma = _unit_problem(a, b, M, an, bn, lo, hi, work) if fits else 0.0
    return ma, u, v, alpha, beta, K, an, bn, lo, hi, work


def checked_solve(a, b, M, buf, eps, mode, max_iter, tol, check_every):
    """:func:`._solver.solve_problem` of a cold balanced problem after the
    checks of :mod:`._checks`, in one compiled call; ``buf`` (the module's layout)
    is the :attr:`.result.FactoredPlan.buffer` of the result (``u, v, alpha,
    beta``, then the kernel), then the work of the solve: ``a, b`` divided by
    their mass, the column ranges ``lo, hi`` of ``M``, then the ``work`` of
    :func:`._solver.solve_problem`. Returns ``(mass, cost, marginal_error,
    n_iter, err, status, stabilised)``; ``mass`` is 0, and nothing is
    solved, when the input fails a check (:func:`_options_fit`,
    :func:`_unit_problem`)."""
    ma, u, v, alpha, beta, K, an, bn, lo, hi, work = _prepared(
        a, b, M, buf, eps, max_iter, tol, check_every
    )
    if ma == 0.0:
        return REFUSED_OUTCOME
    tiny, _, kernel_spread = dtype_constants(M)
    cost, marginal_error, n_iter, err, status, stabilized = solve_problem(
        M, lo[:0], lo[:0], an, bn, eps, ma, alpha, beta, False, mode, kernel_spread, True,
        np.inf, np.inf, max_iter, tol, check_every, tiny, K, u, v, lo, hi, work,
    )  # fmt: skip
    return ma, cost, marginal_error, n_iter, err, status, stabilized


def checked_kernel_solve(a, b, M, buf, eps, mode, max_iter, tol, check_every):
    """:func:`checked_solve` in the kernel domain alone
    (:func:`._solver.kernel_solve`), compiled without NRT: no allocation, no
    reference count, not even on the arguments. Returns what
    :func:`checked_solve` returns, or ``mass = -1`` (:data:`NEEDS_LOG`) when
    the input passed the checks but the kernel domain does not take it
    (``mode`` LOG, AUTO with a spread above the kernel domain's, or a
    breakdown: :func:`checked_solve` solves it); no float32 copy of a float64
    kernel (:func:`._kernel.takes_copy`), which :func:`checked_solve` takes
    on large problems."""
    ma, u, v, alpha, beta, K, an, bn, lo, hi, work = _prepared(
        a, b, M, buf, eps, max_iter, tol, check_every
    )
    if ma == 0.0:
        return REFUSED_OUTCOME
    tiny, _, kernel_spread = dtype_constants(M)
    spread = kernels.spread(lo, hi)
    if mode == LOG or (mode == AUTO and spread > kernel_spread * eps):
        return LOG_OUTCOME
    status, cost, l1, n_iter, err = kernel_solve(
        M, lo[:0], lo[:0], an, bn, eps, alpha, beta, np.inf, np.inf, spread, max_iter, tol,
        check_every, tiny, K, u, v, lo, work, work[:0].view(np.float32),
    )  # fmt: skip
    if status == FAILED:
        return LOG_OUTCOME
    return ma, ma * cost, ma * l1, n_iter, err, status, False


def signature(dtype: np.dtype) -> tuple:
    """The one argument signature of :func:`checked_solve` for ``dtype``:
    C-contiguous ``a, b`` (1-D) and ``M`` (2-D) of that dtype, a float64 work
    buffer, ``eps``, ``mode``, ``max_iter``, ``tol``, ``check_every`` (a
    float ``tol``, not ``None``: Numba unboxes an optional argument through
    a slower path)."""
    scalar = numpy_support.from_dtype(dtype)
    vector, matrix = types.Array(scalar, 1, "C"), types.Array(scalar, 2, "C")
    buf = types.Array(types.float64, 1, "C")
    return (vector, vector, matrix, buf, types.float64, types.int64, types.int64,
            types.float64, types.int64)  # fmt: skip


SOLVERS = {}  # dtype -> (checked_kernel_solve, checked_solve) compiled for signature(dtype) only
SMALL = LOW_MIN  # entries of M below which checked_kernel_solve goes first (no float32 copy)
HISTORY = RATE_WINDOW + 1  # the last entries of the buffer: the rate history (work_size)


def solvers(dtype: np.dtype):
    """``(checked_kernel_solve, checked_solve)`` compiled for
    :func:`signature` of ``dtype``, and for no other types (loaded from the
    cache after the first run); ``None`` for a dtype without a plain path
    (not float64 or float32)."""
    compiled = SOLVERS.get(dtype)
    if compiled is None and dtype in KERNEL_SPREAD:
        sig = [signature(dtype)]
        compiled = SOLVERS[dtype] = (
            njit(sig, cache=True, _nrt=False)(checked_kernel_solve),
            njit(sig, cache=True)(checked_solve),
        )
    return compiled
