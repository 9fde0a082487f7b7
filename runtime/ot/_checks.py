"""Validation at the API boundary: shapes, dtypes, finiteness, signs.

Every public solver calls these before any compiled kernel runs, so the hot
loops never check their input. Each failure raises :class:`OTInputError`
naming the argument and the problem.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from otswarm.ot.errors import OTInputError

# relative tolerance on |sum(a) - sum(b)| for balanced problems, per dtype
MASS_RTOL = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-4}
# default stopping tolerance on the marginal violation (relative to the mass), per dtype
DEFAULT_TOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-6}


def work_dtype(*arrays) -> np.dtype:
    """float32 when every floating input is float32, else float64."""
    kinds = [np.asarray(x).dtype for x in arrays if x is not None]
    if (
        kinds
        and all(k == np.float32 for k in kinds if k.kind == "f")
        and any(k == np.float32 for k in kinds)
    ):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def numeric_array(x, dtype: np.dtype, name: str) -> np.ndarray:
    """``x`` as a C-contiguous, writeable array of ``dtype``, copied when it is
    not one already. A read-only array is copied too: the compiled kernels
    are typed for writeable arrays, and a read-only one (a message's
    weights, ``np.broadcast_to``, a read-only memory map) is another Numba
    type that would compile the whole solve again at its first call, tens
    of seconds on a board."""
    try:
        arr = np.ascontiguousarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise OTInputError(f"{name}: not a numeric array ({exc})") from exc
    return arr if arr.flags.writeable else arr.copy()


def cost_matrix(
    M, dtype: np.dtype, name: str = "M", ndim: int = 2, finite: bool = True
) -> np.ndarray:
    """``M`` as a C-contiguous finite array of ``ndim`` dimensions;
    ``finite=False`` leaves the finiteness to the caller (:func:`finite_costs`
    once a pass it makes anyway has found a non-finite entry)."""
    arr = numeric_array(M, dtype, name)
    if arr.ndim != ndim:
        raise OTInputError(f"{name}: expected {ndim} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise OTInputError(f"{name}: empty array of shape {arr.shape}")
    if finite:
        finite_costs(arr, name)
    return arr


def finite_costs(M: np.ndarray, name: str = "M") -> None:
    """Raise unless every entry of the C-contiguous array ``M`` is finite."""
    if not _finite(M.reshape(-1)):
        raise OTInputError(f"{name}: contains NaN or inf (costs must be finite)")


def finite_copy(M: np.ndarray, name: str = "M") -> np.ndarray:
    """A copy of the C-contiguous array ``M``, checked finite on the way (one
    pass over ``M`` where ``M.copy()`` and :func:`finite_costs` make two)."""
    out = np.empty_like(M)
    if not _copy_finite(M.reshape(-1), out.reshape(-1)):
        raise OTInputError(f"{name}: contains NaN or inf (costs must be finite)")
    return out


def histogram(x, size: int, dtype: np.dtype, name: str) -> np.ndarray:
    """A 1-D finite non-negative weight vector of length ``size`` with positive
    mass; ``None`` means uniform weights ``1/size``."""
    if x is None:
        return np.full(size, 1.0 / size, dtype=dtype)
    arr = numeric_array(x, dtype, name)
    if arr.ndim != 1 or arr.shape[0] != size:
        raise OTInputError(f"{name}: expected shape ({size},), got {arr.shape}")
    _check_weights(arr, name)
    return arr


def histograms(X, rows: int | None, size: int, dtype: np.dtype, name: str) -> np.ndarray:
    """A ``(rows, size)`` stack of weight vectors, one per row, each checked
    like :func:`histogram` (``rows=None`` accepts any number of rows)."""
    arr = numeric_array(X, dtype, name)
    if arr.ndim != 2 or arr.shape[1] != size or (rows is not None and arr.shape[0] != rows):
        want = f"({rows if rows is not None else 'K'}, {size})"
        raise OTInputError(
            f"{name}: expected shape {want} (one histogram per row), got {arr.shape}"
        )
    finite, lowest = _finite_lowest(arr.reshape(-1))
    if not finite or lowest < 0 or not np.all(row_masses(arr) > 0):
        for k in range(arr.shape[0]):
            _check_weights(arr[k], f"{name}[{k}]")
    return arr


@njit(cache=True, fastmath={"reassoc"})
def _finite(x):
    """Whether every entry of a 1-D array is finite: ``x * 0`` is 0 for a finite
    ``x`` and NaN for inf or NaN, and a sum of them (reordered, so it
    vectorises; NaN survives any order) is 0 only when all are."""
    acc = 0.0
    for k in range(x.shape[0]):
        acc += x[k] * 0.0
    return acc == 0.0


@njit(cache=True, fastmath={"reassoc"})
def _copy_finite(x, out):
    """``out = x`` (1-D) and whether every entry is finite, as :func:`_finite`."""
    acc = 0.0
    for k in range(x.shape[0]):
        value = x[k]
        out[k] = value
        acc += value * 0.0
    return acc == 0.0


@njit(cache=True, fastmath={"reassoc"})
def _finite_lowest(x):
    """``(all finite, min)`` of a 1-D array: :func:`_finite`'s sum of ``x *
    0`` beside the min, reordered so that the loop vectorises (a NaN fails
    the sum, so the min needs no NaN rule)."""
    acc = 0.0
    lowest = np.inf
    for k in range(x.shape[0]):
        acc += x[k] * 0.0
        lowest = min(lowest, x[k])
    return acc == 0.0, lowest


@njit(cache=True)
def row_masses(X):
    """The sum of each row of a 2-D array in float64, each in order as
    :func:`_scan` sums a vector (so a row's mass is the mass
    :func:`same_mass` gives it), with the rows side by side: the loop over
    rows is the inner one, so no add waits on the one before it (NumPy's
    ``sum(axis=1)`` makes a call per row)."""
    P, n = X.shape
    sums = np.zeros(P)
    for i in range(n):
        for p in range(P):
            sums[p] += X[p, i]
    return sums


@njit(cache=True)
def _scan(x):
    """``(all finite, min, sum, number of zeros)`` of a 1-D array in one pass."""
    finite = True
    lowest = np.inf
    total = 0.0
    zeros = 0
    for value in x:
        finite = finite and math.isfinite(value)
        lowest = min(lowest, value)
        total += value
        zeros += value == 0
    return finite, lowest, total, zeros


def _check_weights(arr: np.ndarray, name: str) -> None:
    finite, lowest, total, _ = _scan(arr)
    if not finite:
        raise OTInputError(f"{name}: contains NaN or inf")
    if lowest < 0:
        raise OTInputError(f"{name}: negative weight at index {int(np.argmin(arr))}")
    if not total > 0:
        raise OTInputError(f"{name}: total mass is zero")


def same_mass(a: np.ndarray, b: np.ndarray, names: str = "a, b") -> tuple[float, bool]:
    """The common mass of ``a`` and ``b`` and whether either has a zero weight;
    raise when the masses differ (balanced OT moves all of ``a`` onto ``b``)."""
    _, _, ma, zeros_a = _scan(a)
    _, _, mb, zeros_b = _scan(b)
    if abs(ma - mb) > MASS_RTOL[a.dtype] * max(ma, mb):
        raise OTInputError(
            f"{names}: masses differ ({ma!r} vs {mb!r}); balanced OT needs equal mass "
            "(normalise both, or use sinkhorn_unbalanced)"
        )
    return float(ma), bool(zeros_a or zeros_b)


def same_masses(A: np.ndarray, B: np.ndarray, names: str = "A, B") -> np.ndarray:
    """Row masses of ``A`` (:func:`row_masses`), checked equal to those of
    ``B`` row by row."""
    ma, mb = row_masses(A), row_masses(B)
    bad = np.flatnonzero(np.abs(ma - mb) > MASS_RTOL[A.dtype] * np.maximum(ma, mb))
    if bad.size:
        k = int(bad[0])
        where = names if len(A) == 1 else f"{names} (row {k})"
        raise OTInputError(
            f"{where}: masses differ ({ma[k]!r} vs {mb[k]!r}); balanced OT needs equal mass "
            "(normalise both, or use sinkhorn_unbalanced)"
        )
    return ma


def _number(value, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise OTInputError(f"{name}: expected a number, got {value!r}") from exc


def positive(value, name: str) -> float:
    """A finite float > 0 (regularisation strengths, tolerances)."""
    out = _number(value, name)
    if not (math.isfinite(out) and out > 0):
        raise OTInputError(f"{name}: must be finite and > 0, got {value!r}")
    return out


def positive_or_inf(value, name: str) -> float:
    """A float > 0, ``inf`` allowed (marginal relaxation strengths)."""
    out = _number(value, name)
    if math.isnan(out) or out <= 0:
        raise OTInputError(f"{name}: must be > 0 (inf allowed), got {value!r}")
    return out


def count(value, name: str, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (iteration limits, projection counts)."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise OTInputError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def potentials(init, n: int, m: int, name: str = "init") -> tuple[np.ndarray, np.ndarray]:
    """A warm start ``(f, g)`` of finite float64 vectors of lengths ``n`` and ``m``."""
    try:
        f, g = init
    except (TypeError, ValueError) as exc:
        raise OTInputError(f"{name}: expected a pair (f, g), got {type(init).__name__}") from exc
    f = np.array(f, dtype=np.float64)
    g = np.array(g, dtype=np.float64)
    if f.shape != (n,) or g.shape != (m,):
        raise OTInputError(f"{name}: expected shapes ({n},) and ({m},), got {f.shape}, {g.shape}")
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(g))):
        raise OTInputError(f"{name}: potentials must be finite")
    return f, g


def pair_problem(
    a, b, M, finite: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.dtype]:
    """``(a, b, M, dtype)`` of one problem: ``M`` an (n, m) cost matrix, ``a``
    (n,) and ``b`` (m,) weights (``None``: uniform), all in the working dtype;
    ``finite`` as in :func:`cost_matrix`."""
    dtype = work_dtype(M, a, b)
    M = cost_matrix(M, dtype, finite=finite)
    n, m = M.shape
    return histogram(a, n, dtype, "a"), histogram(b, m, dtype, "b"), M, dtype


def iteration_options(tol, max_iter, check_every, dtype: np.dtype) -> tuple[float, int, int]:
    """``(tol, max_iter, check_every)`` of an iterative solver; ``tol=None`` is the
    dtype's default."""
    tol = DEFAULT_TOL[dtype] if tol is None else positive(tol, "tol")
    return tol, count(max_iter, "max_iter"), count(check_every, "check_every")
