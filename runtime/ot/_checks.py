"""Validation at the API boundary: shapes, dtypes, finiteness, signs.

Every public solver calls these before any compiled kernel runs, so the hot
loops never check their input. Each failure raises :class:`OTInputError`
naming the argument and the problem.
"""

from __future__ import annotations

import math

import numpy as np

from runtime.ot.errors import OTInputError

# relative tolerance on |sum(a) - sum(b)| for balanced problems, per dtype
MASS_RTOL = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-4}


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


def cost_matrix(M, dtype: np.dtype, name: str = "M", ndim: int = 2) -> np.ndarray:
    """``M`` as a C-contiguous finite array of ``ndim`` dimensions."""
    try:
        arr = np.ascontiguousarray(M, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise OTInputError(f"{name}: not a numeric array ({exc})") from exc
    if arr.ndim != ndim:
        raise OTInputError(f"{name}: expected {ndim} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise OTInputError(f"{name}: empty array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise OTInputError(f"{name}: contains NaN or inf (costs must be finite)")
    return arr


def histogram(x, size: int, dtype: np.dtype, name: str) -> np.ndarray:
    """A 1-D finite non-negative weight vector of length ``size`` with positive
    mass; ``None`` means uniform weights ``1/size``."""
    if x is None:
        return np.full(size, 1.0 / size, dtype=dtype)
    try:
        arr = np.ascontiguousarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise OTInputError(f"{name}: not a numeric array ({exc})") from exc
    if arr.ndim != 1 or arr.shape[0] != size:
        raise OTInputError(f"{name}: expected shape ({size},), got {arr.shape}")
    _check_weights(arr, name)
    return arr


def histograms(X, rows: int | None, size: int, dtype: np.dtype, name: str) -> np.ndarray:
    """A ``(rows, size)`` stack of weight vectors, one per row, each checked
    like :func:`histogram` (``rows=None`` accepts any number of rows)."""
    try:
        arr = np.ascontiguousarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise OTInputError(f"{name}: not a numeric array ({exc})") from exc
    if arr.ndim != 2 or arr.shape[1] != size or (rows is not None and arr.shape[0] != rows):
        want = f"({rows if rows is not None else 'K'}, {size})"
        raise OTInputError(
            f"{name}: expected shape {want} (one histogram per row), got {arr.shape}"
        )
    for k in range(arr.shape[0]):
        _check_weights(arr[k], f"{name}[{k}]")
    return arr


def _check_weights(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        raise OTInputError(f"{name}: contains NaN or inf")
    if np.any(arr < 0):
        raise OTInputError(f"{name}: negative weight at index {int(np.argmin(arr))}")
    if not arr.sum() > 0:
        raise OTInputError(f"{name}: total mass is zero")


def same_mass(a: np.ndarray, b: np.ndarray, names: str = "a, b") -> float:
    """The common mass of ``a`` and ``b``; raise when they differ (balanced OT
    moves all of ``a`` onto all of ``b``)."""
    ma, mb = float(a.sum(dtype=np.float64)), float(b.sum(dtype=np.float64))
    if abs(ma - mb) > MASS_RTOL[a.dtype] * max(ma, mb):
        raise OTInputError(
            f"{names}: masses differ ({ma!r} vs {mb!r}); balanced OT needs equal mass "
            "(normalise both, or use sinkhorn_unbalanced)"
        )
    return ma


def positive(value, name: str) -> float:
    """A finite float > 0 (regularisation strengths, tolerances)."""
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise OTInputError(f"{name}: expected a number, got {value!r}") from exc
    if not (math.isfinite(out) and out > 0):
        raise OTInputError(f"{name}: must be finite and > 0, got {value!r}")
    return out


def positive_or_inf(value, name: str) -> float:
    """A float > 0, ``inf`` allowed (marginal relaxation strengths)."""
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise OTInputError(f"{name}: expected a number, got {value!r}") from exc
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
