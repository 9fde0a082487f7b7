"""Sinkhorn in the kernel domain, balanced and generalised (unbalanced): one
build pass, over-relaxed sweeps.

The kernel is ``K_ij = exp((beta_j - M_ij) / eps)`` with the column shift
``beta_j = min_i M_ij`` (every column holds a 1, so no column underflows);
with a row offset ``alpha`` it is the kernel of the reduced cost ``M_ij -
alpha_i`` (:func:`reduced_column_range`, :func:`build_with_copy`), taken
on the way, never written.
One pass over ``M`` checks it is finite and gives the column ranges, whose
largest spread ``max_j (max_i M_ij - beta_j)`` decides whether the kernel
domain is safe (every entry is then at least ``exp(-spread / eps)``); a second
pass builds ``K`` and ``K^T 1`` (for the first column update). The shift is
per column because a column-wise min/max over rows vectorises, a row-wise
reduction does not. The plan is kept factored, ``P = diag(u) K diag(v)``.

Each sweep is one pass over ``K`` (:func:`row_sweep`: ``s = K v`` for a block
of rows, then ``t = K^T u`` accumulated from the same rows while they are in
L1; for narrow ``K``, in one loop with the next block's ``s``) with
over-relaxation
(Thibault, Chizat, Dossal, Papadakis 2017, "Overrelaxed Sinkhorn-Knopp"):
``u <- (1 - w) u + w a / K v`` and likewise for ``v``. Near the fixed point
this is the log-domain update ``u^(1-w) (a / K v)^w`` to first order, with no
``log``/``exp`` in the loop. ``w`` is 1 for the first ``RELAX_START`` sweeps;
then it is set from the observed contraction rate ``r`` of the marginal error
(Lehmann, von Renesse, Sambale, Uschmajew 2021), ``w = 2 / (1 + sqrt(1 - r))``.
A fast and steady contraction sets it earlier, from sweep ``EARLY_START`` on:
when the last rate is at most ``EARLY_RATE`` and within ``STEADY`` of the one
before (the error is already in its geometric regime; ``w <= 1.38``). Such a
solve needs only a handful of sweeps, so waiting for ``RELAX_START`` would
leave it unrelaxed. A rate this early underestimates the plain rate (the slow
mode is not dominant yet), so the ``w`` it gives stays below the optimum; at
``EARLY_RATE = 0.5`` the float32 solves of 400 unseen problems took 2.5% more
sweeps than at 0.8 (docs/ot.md, "Over-relaxation").
While relaxed, every ``REFRESH`` sweeps the rate ``lam`` observed over the
last ``RATE_WINDOW`` sweeps may raise ``w``: Sinkhorn alternates two blocks
(rows, columns), so near the fixed point it is a 2-cyclic iteration and
Young's relation ``(lam + w - 1)^2 = lam w^2 r`` ties the relaxed rate to the
plain one. With ``w`` below the optimum the error falls monotonically at
``lam > w - 1``; solving for ``r`` gives the plain rate that the early
estimate missed (the slow mode was not dominant yet), and ``w`` goes up to
``2 / (1 + sqrt(1 - r))``. At or past the optimum the rate is ``w - 1`` (the
error oscillates) and ``w`` stays: the refresh only ever raises it.
Safeguards: an entry whose relaxed value would fall below half of the plain
update takes the plain update (the scalings stay positive), and when the error
grows past ``GROWTH`` times the best seen, ``w`` goes back to 1 for the rest
of the solve. The margin is wide because a relaxed solve grows for a few
sweeps after ``w`` is raised (the error moves into the slower, oscillating
modes of the relaxed iteration: 2.2x the best on unbalanced problems at
n = 1024); a fallback at twice the best turned such solves into plain ones,
as slow as POT's (``tests/test_ot_unbalanced_sweeps.py``).

A float64 kernel of at least ``LOW_MIN`` entries whose reduced costs spread
over at most ``LOW_SPREAD eps`` is also written as a float32 copy in the same
build pass (:func:`build_with_copy`), and the first sweeps run on the copy
(half the bytes, twice the SIMD lanes) until the marginal error is below
``SWITCH``; the sweeps on ``K`` that follow converge to ``K``'s own plan and
alone decide convergence (:func:`sweeps`).

The stopping test measures the plan that is returned: after the row update of
sweep ``k`` the plan ``(u, v)`` has row marginal ``u_i (K v)_i`` and column
marginal ``v_j (K^T u)_j``; the error is the L2 norm of both violations
together (with ``w = 1`` the row part is zero, as in plain Sinkhorn). The same
sweep gives their L1 norm (``OTResult.marginal_error``), so what is left after
the last sweep is the cost ``<P, C> = sum_i u_i sum_j K_ij v_j C_ij``. A sweep
that is expected to be the last (its error below ``tol`` at the rate of the two
before) takes it on the way: each row's ``sum_j K_ij v_j C_ij`` beside its sum
``(K v)_i``, from the same products, times the new ``u_i``, which is the
returned plan's; that reads ``C`` once where :func:`plan_cost` (the pass left
when the guess was wrong) reads ``K`` and ``C``.

A compiled call that is not inlined increfs every array argument on entry
and decrefs it on exit, each an atomic operation (a call and a ``lock``
instruction: NRT's refcounts were 18% of the samples of a loop of one-sweep
16 x 16 solves, ``perf``). So the small passes of a solve (:func:`column_range`,
:func:`reduced_column_range`, :func:`spread`, :func:`flush_harmless`, and
``_plain._weights``) are inlined into their callers, and the passes that
allocate nothing (:func:`build`, :func:`build_with_copy`, :func:`row_sweep`,
:func:`sweeps`, :func:`plan_cost`, and their twins in :mod:`._scaling` and
:mod:`._lanes`) are compiled without NRT (``_nrt=False``): no reference
counts at all, and Numba refuses to compile an allocation in them. After
the inlining the refcounts were still 22% of the samples of a loop of
``sinkhorn`` calls at 16 x 16; compiled without NRT, 14%.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from otswarm.ot._fastexp import (
    LOG2E,
    cast_like,
    floor_like,
    kernel_exp_like,
    normal_kernel_exp_like,
    pow_positive,
)
from otswarm.ot._scaling import CONVERGED, FAILED, FAST, HUGE, MAX_ITER, relaxed

RELAX_START = 6  # plain sweeps before the rate is estimated
RATE_WINDOW = 3  # sweeps over which the contraction rate is measured
MAX_RATE = 0.99  # cap of the rate estimate (w <= 1.82)
EARLY_START = 3  # first sweep after which a fast, steady contraction starts the relaxation
EARLY_RATE = 0.8  # fast: at most this rate per sweep (w <= 1.38)
STEADY = 0.1  # steady: the last two rates within this fraction of the last
GROWTH = 10.0  # w falls back to 1 when the error exceeds this multiple of the best one
REFRESH = 5  # while relaxed, every REFRESH sweeps the observed rate may raise w
SLOWER = 1.05  # ... when it is this much slower than the w - 1 an optimal w would give
BLOCK = 4  # rows per block of the fused sweep (row_sweep unrolls exactly 4)
PIPE_BYTES = 1 << 14  # two blocks of rows of K below this size: row_sweep is pipelined
LOW_MIN = 1 << 13  # entries of K from which the float64 sweeps start on a float32 copy
LOW_SPREAD = 60.0  # ... when the reduced costs spread over at most this many eps
SWITCH = 1e-6  # error (unit mass) at which the sweeps go from the copy to K
STALL = 1e-4  # ... or once it grows below this (unit mass): the copy's rounding, not relaxation
NARROW_RANGE_MIN = 1 << 12  # entries of a float32 M from which its column ranges run in float32
TINY32 = float(np.finfo(np.float32).tiny)


@njit(cache=True, inline="always")
def _lower(x, y):
    return x if x < y else y


@njit(cache=True, inline="always")
def _upper(x, y):
    return x if x > y else y


@njit(cache=True, inline="always")
def column_range(M, lo, hi, scratch=None):
    """``lo_j = min_i M_ij`` and ``hi_j = max_i M_ij`` in one pass over ``M``
    (``BLOCK`` rows at a time, so the loop over ``j`` vectorises and ``lo, hi``
    are loaded and stored once per block); returns whether every entry is
    finite (the boundary check of a cost matrix; a NaN never passes a
    comparison, so it leaves ``lo, hi`` alone and is caught here).
    ``scratch`` (float64, at least ``2 m`` entries, or None) is where the
    bounds go every other block (:func:`_ranges`)."""
    return reduced_column_range(M, None, lo, hi, scratch)


@njit(cache=True, inline="always")
def reduced_column_range(M, alpha, lo, hi, scratch=None):
    """:func:`column_range` of the reduced cost ``M_ij - alpha_i`` (each
    difference in the dtype of ``M``, as :func:`build_with_copy` takes it, so
    ``lo_j`` is exactly the least of them), in the same single pass over
    ``M`` and with no reduced array written; ``alpha`` has ``n`` entries, or
    is None for ``alpha = 0`` (:func:`column_range` itself; Numba compiles
    the two apart, the loop of None with no offset in it). A float32 ``M`` of
    at least ``NARROW_RANGE_MIN`` entries keeps its bounds in float32 through
    the pass and widens them into ``lo, hi`` at the end: the same values
    (each bound is one of the float32 differences), with no conversion per
    entry and twice the SIMD lanes (1.2-2.2x faster at 325 x 369, 1.0-1.4x
    at 1024 x 1024, docs/ot.md). Below that size the two take about the same
    time. The float32 bounds live in the memory of float64 ``lo`` and ``hi``
    (C-contiguous), in the two halves of their float32 view in turn
    (:func:`_ranges`), the last block's in the upper half, entries ``m .. 2m
    - 1``, so nothing is allocated (a caller compiled without NRT may call
    this); they are widened front to back: float64 entry ``j`` covers
    float32 entries ``2j`` and ``2j + 1``, below ``m + j + 1``, so it
    overwrites only bounds already read. Float32 ``lo, hi`` take the bounds
    directly. Otherwise the bounds go to ``scratch`` every other block, in
    place when it is None."""
    m = M.shape[1]
    if is_double(M) or M.size < NARROW_RANGE_MIN or not is_double(lo):
        if scratch is None:
            return _ranges(M, alpha, lo, hi, lo, hi)
        other = scratch[: 2 * m].view(lo.dtype)  # float32 lo: its first 2 m float32 entries
        return _ranges(M, alpha, lo, hi, other[:m], other[m : 2 * m])
    narrow_lo, narrow_hi = lo.view(np.float32), hi.view(np.float32)
    finite = _ranges(M, alpha, narrow_lo[m:], narrow_hi[m:], narrow_lo[:m], narrow_hi[:m])
    for j in range(m):
        lo[j] = narrow_lo[m + j]
        hi[j] = narrow_hi[m + j]
    return finite


@njit(cache=True, inline="always")
def _ranges(M, alpha, lo, hi, lo_other, hi_other):
    """The loop of :func:`reduced_column_range`, into ``lo, hi`` of any dtype.

    The bounds go back and forth between ``lo, hi`` and ``lo_other,
    hi_other`` (``m`` entries each, the dtype of ``lo``; or ``lo, hi``
    themselves: in place) from one block of rows to the next, the first
    block reading the pair that makes the last one write ``lo, hi``: a block
    never stores to the bounds it reads, which LLVM compiles to a masked
    store of each bound that changes (``vmaskmovpd``, four per 8 columns,
    the pass's bottleneck): 0.37-0.40 cycles an entry instead of 0.83-0.88
    at 256 x 256 and 1024 x 1024 in float64 (measured)."""
    n, m = M.shape
    blocks = (n + BLOCK - 1) // BLOCK  # block k reads src, writes dst, then they swap
    src_lo, src_hi, dst_lo, dst_hi = lo, hi, lo_other, hi_other
    if blocks % 2 == 1:
        src_lo, src_hi, dst_lo, dst_hi = lo_other, hi_other, lo, hi
    for j in range(m):
        src_lo[j] = np.inf
        src_hi[j] = -np.inf
    finite = True
    for i in range(0, n, BLOCK):
        i1, i2, i3 = min(i + 1, n - 1), min(i + 2, n - 1), min(i + 3, n - 1)
        M0, M1, M2, M3 = M[i], M[i1], M[i2], M[i3]
        a0 = a1 = a2 = a3 = cast_like(0.0, M)
        if alpha is not None:
            a0, a1 = cast_like(alpha[i], M), cast_like(alpha[i1], M)
            a2, a3 = cast_like(alpha[i2], M), cast_like(alpha[i3], M)
        for j in range(m):
            x0, x1, x2, x3 = M0[j], M1[j], M2[j], M3[j]
            if alpha is not None:
                x0, x1, x2, x3 = x0 - a0, x1 - a1, x2 - a2, x3 - a3
            finite &= (math.isfinite(x0) & math.isfinite(x1)) & (math.isfinite(x2)
                                                                & math.isfinite(x3))  # fmt: skip
            dst_lo[j] = _lower(_lower(_lower(x0, x1), _lower(x2, x3)), src_lo[j])
            dst_hi[j] = _upper(_upper(_upper(x0, x1), _upper(x2, x3)), src_hi[j])
        src_lo, src_hi, dst_lo, dst_hi = dst_lo, dst_hi, src_lo, src_hi
    return finite


@njit(cache=True, inline="always")
def spread(lo, hi):
    """``max_j (hi_j - lo_j)``: the largest reduced cost ``M_ij - min_i M_ij``."""
    top = 0.0
    for j in range(lo.shape[0]):
        top = max(top, hi[j] - lo[j])
    return top


@njit(cache=True, inline="always")
def flushes(K, spread, eps):
    """Whether building ``K`` for reduced costs up to ``spread`` flushes
    entries to 0: some exponent ``-spread / eps`` can fall below the dtype's
    ``FLOOR + 1``, where ``exp`` leaves the normal numbers."""
    return not spread / eps <= -floor_like(K) - 1.0


@njit(cache=True, inline="always")
def flush_harmless(K, spread, eps, u, v, tiny, tol):
    """Whether the plan ``(u, v)`` of ``K`` (unit mass) is that of the exact
    kernel to within ``tol / 10``: the build flushed no entry
    (:func:`flushes`), or the flushed ones, each below ``tiny``, would move
    the marginals by at most ``tiny * sum(u) * sum(v) <= tol / 10``. Scalings
    that wide can lift a flushed entry to real mass, and the sweeps would
    then have converged to the plan of another problem."""
    return not flushes(K, spread, eps) or tiny * np.sum(u) * np.sum(v) <= 0.1 * tol


# no reassoc: LLVM would turn x * (1 / eps) into x / eps
@njit(cache=True, fastmath={"contract"}, _nrt=False)
def build(M, beta, spread, eps, K, t, tiny, shift, sums):
    """``K_ij = exp((beta_j - M_ij) / eps)`` (``beta = lo`` of
    :func:`column_range`: every column holds a 1; ``spread`` of
    :func:`spread`) and ``t = K^T 1``, in one pass over ``M``; the exponents
    in base 2 (``(beta_j - M_ij) * (log2(e) / eps)``, in ``[-spread / eps,
    0]`` times ``log2(e)``, where the ``exp`` is cheaper:
    :mod:`._fastexp`), the ``exp`` and the column sums in the dtype of ``K``
    (the dtype of ``M``: float32 work runs 16 lanes; ``t`` only starts the
    sweeps, so a float32 sum is enough), ``t`` returned in float64. The
    ``exp`` clamps and flushes (entries below ``tiny`` are 0) only when some
    exponent can fall below the dtype's ``FLOOR + 1``; LLVM compiles the
    loop once for each case. ``shift`` and ``sums`` are work arrays of ``m``
    entries in the dtype of ``K``."""
    build_with_copy(M, None, beta, spread, eps, K, t, tiny, shift, sums, K[:0])


def is_double(K):
    """Whether ``K`` is float64; compiled, a constant of the signature, so that
    the float32 build compiles without the loop of the float64 copy (which
    costs it 1.15x at 256 x 256)."""
    return K.dtype == np.float64


@overload(is_double, inline="always")
def _is_double(K):
    double = K.dtype == types.float64
    return lambda K: double


@njit(cache=True, fastmath={"contract"}, _nrt=False)
def build_with_copy(M, alpha, beta, spread, eps, K, t, tiny, shift, sums, K_low):
    """:func:`build`, and when ``K_low`` has rows (a float32 array of the shape
    of ``K``, float64 ``K`` only) also ``K_low = float32(K)`` in the same
    pass (the copy that :func:`sweeps` starts on, :data:`LOW_SPREAD`);
    ``K_low`` with no rows is no copy. When ``alpha`` is not None (``n``
    entries), ``K`` is the kernel of the reduced cost ``M_ij - alpha_i``
    (``beta, spread`` of :func:`reduced_column_range`), ``K_ij = exp((beta_j
    - (M_ij - alpha_i)) / eps) = exp((alpha_i + beta_j - M_ij) / eps)``, the
    difference taken as :func:`reduced_column_range` takes it (every
    exponent is at most 0, every column holds a 1) and no reduced array
    written. ``alpha`` None is no
    offset, compiled apart: the offset tested in the inner loop cost the
    build at 16 x 16 0.52 us against 0.33 (measured).

    Each iteration of a row's loop takes two entries, ``j`` and ``j +
    m // 2``: LLVM vectorises it with each vector of the ``exp``'s constants
    (15 of them and the AVX2 registers are 16, so it loads them again in
    every iteration) serving two vectors of entries; the build went from
    3.2 to 2.9 cycles an entry at 256 x 242 and 971 x 957 (measured)."""
    n, m = M.shape
    for j in range(m):
        shift[j] = cast_like(beta[j], K)
        sums[j] = 0.0
    scale = cast_like(LOG2E / eps, K)
    flush = flushes(K, spread, eps)
    if not is_double(K) and K_low.shape[0] > 0:
        raise ValueError("build_with_copy: only a float64 kernel has a float32 copy")
    copy = is_double(K) and K_low.shape[0] == n
    pairs = m // 2 if is_double(K) else 0  # float64: two entries an iteration (see above)
    for i in range(n):
        Mi, Ki = M[i], K[i]
        ai = cast_like(0.0 if alpha is None else alpha[i], M)
        for j in range(pairs):
            k = j + pairs
            e, e2 = _entry(Mi, shift, alpha, ai, scale, flush, tiny, j), \
                _entry(Mi, shift, alpha, ai, scale, flush, tiny, k)  # fmt: skip
            Ki[j] = e
            sums[j] += e
            Ki[k] = e2
            sums[k] += e2
        for j in range(2 * pairs, m):  # float32: the whole row; float64: an odd last entry
            e = _entry(Mi, shift, alpha, ai, scale, flush, tiny, j)
            Ki[j] = e
            sums[j] += e
        if copy:  # from L1: the row was just written
            Li = K_low[i]
            for j in range(m):
                Li[j] = cast_like(Ki[j], K_low)
    for j in range(m):
        t[j] = sums[j]


@njit(cache=True, fastmath={"contract"}, inline="always")
def _entry(Mi, shift, alpha, ai, scale, flush, tiny, j):
    """Entry ``j`` of the row of :func:`build_with_copy` from the row ``Mi``
    of ``M`` (offset ``ai``), in the dtype of ``shift`` (that of ``K``)."""
    d = shift[j] - (Mi[j] if alpha is None else Mi[j] - ai)
    return kernel_exp_like(d, scale, shift, tiny) if flush else \
        normal_kernel_exp_like(d, scale, shift)  # fmt: skip


@njit(cache=True, inline="always")
def raised_omega(omega, history):
    """``omega`` raised by Young's relation when the error fell monotonically
    over ``history`` at a rate ``lam`` slower than ``SLOWER (omega - 1)``: the
    plain rate is then ``r = (lam + omega - 1)^2 / (lam omega^2)`` (capped at
    ``MAX_RATE``) and the result ``max(omega, 2 / (1 + sqrt(1 - r)))``."""
    for k in range(RATE_WINDOW):
        if not (0.0 < history[k + 1] < history[k] < np.inf):
            return omega
    lam = (history[RATE_WINDOW] / history[0]) ** (1.0 / RATE_WINDOW)
    if lam <= SLOWER * (omega - 1.0):
        return omega
    rate = min((lam + omega - 1.0) ** 2 / (lam * omega * omega), MAX_RATE)
    return max(omega, 2.0 / (1.0 + math.sqrt(1.0 - rate)))


@njit(cache=True, inline="always")
def next_omega(it, err, omega, relax, best, history):
    """The relaxation after sweep ``it`` with marginal error ``err`` (pushed
    into ``history``, the last ``RATE_WINDOW + 1`` errors). Returns
    ``(omega, relax, best)``: ``relax`` False once the safeguard has fallen back
    to ``omega = 1``, ``best`` the smallest error so far."""
    for k in range(RATE_WINDOW):
        history[k] = history[k + 1]
    history[RATE_WINDOW] = err
    if relax:
        last, before = history[RATE_WINDOW - 1], history[RATE_WINDOW - 2]
        if omega > 1.0 and err > GROWTH * best:
            omega, relax = 1.0, False
        elif omega > 1.0 and it % REFRESH == 0 and it >= RELAX_START + RATE_WINDOW:
            omega = raised_omega(omega, history)
        elif omega == 1.0 and EARLY_START <= it + 1 < RELAX_START:
            rate = err / last if 0.0 < err < last < before < np.inf else 1.0
            if rate <= EARLY_RATE and abs(rate - last / before) <= STEADY * rate:
                omega = 2.0 / (1.0 + math.sqrt(1.0 - rate))
        elif omega == 1.0 and it + 1 == RELAX_START and 0.0 < err < history[0] < np.inf:
            rate = min((err / history[0]) ** (1.0 / RATE_WINDOW), MAX_RATE)
            omega = 2.0 / (1.0 + math.sqrt(1.0 - rate))
    return omega, relax, min(best, err)


@njit(cache=True, fastmath=FAST, inline="always")
def _row_update(omega, s, a_i, u_i, phi, residual):
    """The relaxed update of one row scaling from its sum ``s = (K v)_i``:
    ``(u_i new, e, d)``. The plain update is ``(a_i / s)^phi``; ``d = u_i_new s
    - a_i`` is the row marginal violation of the plan ``(u new, v)`` and ``e``
    the row's part of the stopping error: the fixed-point residual ``s (plain
    - u_i)`` when ``residual``, else ``d``."""
    plain = a_i / s if phi == 1.0 else pow_positive(a_i / s, phi)
    new = relaxed(omega, plain, u_i)
    d = new * s - a_i
    return new, s * (plain - u_i) if residual else d, d


@njit(cache=True, inline="always")
def _block(n, i):
    """The ``BLOCK`` row indices from ``i`` of ``n`` rows; past row ``n - 1``
    they repeat it."""
    return i, min(i + 1, n - 1), min(i + 2, n - 1), min(i + 3, n - 1)


@njit(cache=True, fastmath=FAST, inline="always")
def _block_sums(K, vk, C, k):
    """The sums ``s_r = sum_j K_rj vk_j`` of the block from row ``k`` (each
    load of ``vk`` serves its rows) and, when ``C`` is not None, ``c_r =
    sum_j K_rj vk_j C_rj`` from the same products, in the dtype of ``K``:
    ``(s_0..s_3, c_0..c_3)`` in float64 (``c`` 0 without ``C``)."""
    k0, k1, k2, k3 = _block(K.shape[0], k)
    L0, L1, L2, L3 = K[k0], K[k1], K[k2], K[k3]
    s0 = s1 = s2 = s3 = c0 = c1 = c2 = c3 = cast_like(0.0, K)
    for j in range(K.shape[1]):
        vj = vk[j]
        q0, q1, q2, q3 = L0[j] * vj, L1[j] * vj, L2[j] * vj, L3[j] * vj
        s0, s1, s2, s3 = s0 + q0, s1 + q1, s2 + q2, s3 + q3
        if C is not None:
            c0, c1 = c0 + q0 * C[k0, j], c1 + q1 * C[k1, j]
            c2, c3 = c2 + q2 * C[k2, j], c3 + q3 * C[k3, j]
    return (float(s0), float(s1), float(s2), float(s3), float(c0), float(c1), float(c2),
            float(c3))  # fmt: skip


@njit(cache=True, fastmath=FAST, inline="always")
def _block_columns_and_sums(K, vk, t, i, w0, w1, w2, w3, k):
    """The axpys ``t_j += sum_r w_r K_rj`` of the block from row ``i`` (the
    block's term in the dtype of ``K``, ``t`` float64) and the sums ``s_r``
    of :func:`_block_sums` (no cost) of the block from row ``k``, in one loop
    over the columns: the sums of the next block do not wait for this
    block's row updates, so the core overlaps them with its axpys. Returns
    ``(s_0..s_3)`` in float64."""
    i0, i1, i2, i3 = _block(K.shape[0], i)
    k0, k1, k2, k3 = _block(K.shape[0], k)
    K0, K1, K2, K3 = K[i0], K[i1], K[i2], K[i3]
    L0, L1, L2, L3 = K[k0], K[k1], K[k2], K[k3]
    s0 = s1 = s2 = s3 = cast_like(0.0, K)
    for j in range(K.shape[1]):
        vj = vk[j]
        s0 += L0[j] * vj
        s1 += L1[j] * vj
        s2 += L2[j] * vj
        s3 += L3[j] * vj
        t[j] += (w0 * K0[j] + w1 * K1[j]) + (w2 * K2[j] + w3 * K3[j])
    return float(s0), float(s1), float(s2), float(s3)


@njit(cache=True, fastmath=FAST, inline="always")
def _update_block(omega, phi, residual, tiny, a, u, i, s0, s1, s2, s3):
    """:func:`_row_update` of the block from row ``i`` from its sums, written
    to ``u``: ``(ok, sum of e^2, sum of |d|, u_0..u_3)``, the new scalings
    (0 for rows past ``n - 1``, so that they weigh nothing in the axpys);
    ``ok`` is False when a sum under/overflowed (the caller then gives up the
    sweep)."""
    i0, i1, i2, i3 = _block(u.shape[0], i)
    ok = ((s0 > tiny) & (s0 < HUGE) & (s1 > tiny) & (s1 < HUGE) & (s2 > tiny)
          & (s2 < HUGE) & (s3 > tiny) & (s3 < HUGE))  # fmt: skip
    x0, e0, d0 = _row_update(omega, s0, a[i0], u[i0], phi, residual)
    x1, e1, d1 = _row_update(omega, s1, a[i1], u[i1], phi, residual)
    x2, e2, d2 = _row_update(omega, s2, a[i2], u[i2], phi, residual)
    x3, e3, d3 = _row_update(omega, s3, a[i3], u[i3], phi, residual)
    g1, g2, g3 = i1 > i0, i2 > i1, i3 > i2  # real rows, not repeats of row n - 1
    u[i3] = x3  # from the last: a repeated row ends with its first update
    u[i2] = x2
    u[i1] = x1
    u[i0] = x0
    err = e0 * e0 + (e1 * e1 if g1 else 0.0) + (e2 * e2 if g2 else 0.0) + (e3 * e3 if g3 else 0.0)
    err1 = abs(d0) + (abs(d1) if g1 else 0.0) + (abs(d2) if g2 else 0.0) + (abs(d3) if g3 else 0.0)
    return ok, err, err1, x0, x1 if g1 else 0.0, x2 if g2 else 0.0, x3 if g3 else 0.0


# a zero sum: inf, caught as unusable
@njit(cache=True, fastmath=FAST, error_model="numpy", _nrt=False)
def row_sweep(K, v, vk, a, u, t, omega, phi, residual, tiny, C):
    """``u <- relaxed (a / K v)^phi`` and ``t = K^T u`` in one pass over ``K``.

    Rows go in blocks of ``BLOCK``: the block's dot products share each load of
    ``v`` (:func:`_block_sums`), then its axpys ``t += u_i K_i.`` share each
    load and store of ``t`` (the block's rows are still in L1; that loop is
    written out here: as a function of its row, LLVM compiled it 2.5x slower
    at 256 x 16 in float32, measured). A sweep costs two FMAs per entry of
    ``K`` and about half the memory operations of one row at a time. The
    last block of ``n % BLOCK`` rows repeats row ``n - 1`` with weight 0.
    The axpys of a block wait for its row updates, which wait for its dot
    products: where two blocks of rows fit in ``PIPE_BYTES`` (they stay in
    L1) and the sweep takes no cost, it is software-pipelined, each block's
    axpys in one loop with the next block's dot products
    (:func:`_block_columns_and_sums`), so the core has independent work
    while a block's sums are reduced and its updates divided (a sweep at
    16 x 16 costs 0.12 us instead of 0.32, at 64 x 64 0.7 instead of 1.1,
    measured; at 256 x 256 and beyond the products dominate and the two
    orders cost the same). A sweep that takes
    the cost goes block by block: pipelined, LLVM compiled its loop 4x
    slower at 16 x 16 (0.51 us against 0.12, measured).

    The products run in the dtype of ``K`` (``vk``: ``v`` in that dtype), so
    float32 work takes 16 lanes: each row sum is ``4 x 16`` float32 partial
    sums (vectorised, unrolled) combined into one, relative error at most
    about ``(m / 64 + 6)`` float32 ulps; each block's axpy term
    ``sum_k u_k K_kj`` of 4 rows is float32 and ``t`` accumulates the blocks
    in float64, so its error does not grow with ``n``. Scalings, errors and
    ``t`` stay float64. Returns
    ``(ok, sum of e^2, sum of |d|)`` (``e, d`` of :func:`_row_update`: the
    second is the L1 norm of the row marginal violation of the plan ``(u
    new, v)``); ``ok`` is False on a row sum that under/overflowed (the
    scalings are then partly updated).

    When ``C`` is not None (the cost, as ``K``; Numba compiles the two cases
    apart), the same pass also gives the cost of the plan ``(u new, v)``,
    ``sum_i u_i sum_j K_ij v_j C_ij`` (each row's ``sum_j K_ij v_j C_ij``
    beside its sum ``s_i``, from the same products, in the dtype of ``K`` as
    ``s_i``; the rows summed in float64), as a fourth result; else that is
    0."""
    n, m = K.shape
    for j in range(m):
        t[j] = 0.0
        vk[j] = cast_like(v[j], K)
    err = 0.0
    err1 = 0.0
    cost = 0.0
    pipelined = C is None and 2 * BLOCK * m * K.itemsize < PIPE_BYTES
    s0, s1, s2, s3, c0, c1, c2, c3 = _block_sums(K, vk, C, 0)
    for i in range(0, n, BLOCK):
        if i > 0 and not pipelined:
            s0, s1, s2, s3, c0, c1, c2, c3 = _block_sums(K, vk, C, i)
        ok, e, d, x0, x1, x2, x3 = _update_block(omega, phi, residual, tiny, a, u, i, s0, s1,
                                                 s2, s3)  # fmt: skip
        if not ok:
            return False, err, err1, cost
        err += e
        err1 += d
        cost += (x0 * c0 + x1 * c1) + (x2 * c2 + x3 * c3)
        w0, w1, w2, w3 = cast_like(x0, K), cast_like(x1, K), cast_like(x2, K), cast_like(x3, K)
        i0, i1, i2, i3 = _block(n, i)  # taken before the branch, though only its else reads
        K0, K1, K2, K3 = K[i0], K[i1], K[i2], K[i3]  # them: inside it the sweep ran 2.7x slower
        k = i + BLOCK
        if pipelined and k < n:
            s0, s1, s2, s3 = _block_columns_and_sums(K, vk, t, i, w0, w1, w2, w3, k)
        else:
            for j in range(m):
                t[j] += (w0 * K0[j] + w1 * K1[j]) + (w2 * K2[j] + w3 * K3[j])
    return True, err, err1, cost


@njit(cache=True, inline="always")
def takes_copy(K, spread, eps, tol):
    """Whether :func:`sweeps` starts on a float32 copy of the float64 ``K``:
    at least ``LOW_MIN`` entries (below, a sweep costs less than the copy
    saves), reduced costs within ``LOW_SPREAD eps`` (every float32 entry is
    then at least ``exp(-LOW_SPREAD)``, a normal number, and the scalings stay
    in float32's range, as in the float32 kernel domain) and ``tol`` at most
    ``SWITCH / 10`` (so the copy's sweeps do most of the contraction)."""
    n, m = K.shape
    return K.itemsize == 8 and n * m >= LOW_MIN and spread <= LOW_SPREAD * eps and \
        tol <= 0.1 * SWITCH  # fmt: skip


@njit(cache=True, inline="always")
def expected_below(err, last, tol):
    """Whether the error after the next sweep, at the rate ``err / last`` of
    the last two, is expected below ``tol`` (never without two finite, falling
    errors)."""
    return 0.0 < err < last < np.inf and err * err < tol * last


@njit(cache=True, fastmath=FAST, inline="always")  # the error model of the caller: inf, no raise
def _col_update(b_j, t_j, phi, col_factor, j):
    """The plain column update from the column sum ``t_j = (K^T u)_j``:
    ``b_j / t_j`` (balanced: ``col_factor`` None), generalised ``(b_j /
    t_j)^phi col_factor_j`` (:func:`._fastexp.pow_positive`, so that the
    column loop of :func:`sweeps` vectorises; :func:`_row_update` takes it
    too, for fewer instructions than libm's ``pow``)."""
    if col_factor is None:
        return b_j / t_j
    return b_j / t_j if phi == 1.0 else pow_positive(b_j / t_j, phi) * col_factor[j]


# a zero sum: inf, caught as unusable
@njit(cache=True, fastmath=FAST, error_model="numpy", _nrt=False)
def sweeps(K, K_low, C, a, b, phi_a, phi_b, col_factor, u, v, t, max_iter, tol, check_every,
           tiny, w, vk, vk_low, t0, history):  # fmt: skip
    """Over-relaxed Sinkhorn sweeps from ``u = 1`` and the plain column update
    of it (``t = K^T 1`` on entry), balanced (``col_factor`` None; ``phi_a,
    phi_b`` are then 1 whatever is passed, and Numba compiles this apart, the
    exponents and the test constants) or generalised (Chizat et al. 2018)
    for KL-relaxed marginals: the plain updates are ``u_i = (a_i / (K
    v)_i)^phi_a`` and ``v_j = (b_j / (K^T u)_j)^phi_b col_factor_j``
    (:func:`_col_update`; ``col_factor_j = exp(-(1 - phi_b) beta_j / eps)``
    for the column shift ``beta`` of the kernel, read only when ``phi_b <
    1``). Returns ``(n_iter, err, status, l1, cost)``; on
    CONVERGED and MAX_ITER ``(u, v)`` is the plan that was measured on ``K``
    after the row update of the last sweep, ``err`` the L2 norm of the
    stopping test and ``l1 = |P 1 - a|_1 + |P^T 1 - b|_1`` of that plan (row
    marginal ``u_i (K v)_i``, column marginal ``v_j (K^T u)_j``, both from the
    sweep); FAILED: a row or column sum under/overflowed (the caller goes to
    the log domain). The stopping test: balanced, the marginal violation of
    that plan (``a, b`` of unit mass); generalised, the fixed-point residual,
    the change of both marginals that the plain updates make, ``s_i
    (u_plain_i - u_i)`` and ``t_j (v_plain_j - v_j)`` (in absolute mass).

    ``cost`` is ``<P, C>`` of that plan when the last sweep took it (NaN
    otherwise: :func:`plan_cost` gives it). A sweep on ``K`` (not on the
    copy), float64 or float32, takes the cost (:func:`row_sweep` with ``C``:
    it reads ``C`` beside ``K``, where :func:`plan_cost` would read both
    again) when it may be the last one: the
    error is expected below ``tol`` at the rate of the last two sweeps and
    it is checked, or it is the last of ``max_iter``. A sweep that takes the
    cost and does not stop costs a read of ``C`` in vain.

    When ``K_low`` has rows (``float32(K)`` of :func:`build_with_copy`), the
    first sweeps run on it: half the bytes of ``K`` and twice the lanes, so
    each costs about 0.6 of a float64 sweep at n = 1000. Sinkhorn, plain or
    generalised, converges from any positive start, so the float64 sweeps that
    follow take the copy's scalings as a start and converge to the plan of
    ``K`` itself; only they decide convergence. The copy's own error stalls
    at its rounding (about 1e-8 for unit mass, measured), so the sweeps go
    over to ``K`` once the error is below ``SWITCH`` (100x that), has stopped
    falling below ``STALL`` (above it, a growing error is the relaxation's: a
    relaxed solve's error grows for a few sweeps after ``w`` is raised, over
    a dozen on generalised ones, and the copy's rounding, at most about 1e-6
    by the bound of :func:`row_sweep`'s float32 sums, cannot stall it there),
    is not finite, is expected below ``tol`` after one more sweep at the last
    rate, or one sweep is left (``SWITCH`` and ``STALL`` scaled by the larger
    of the masses of ``a`` and ``b``); a row or column sum that under/overflows on the
    copy restarts the float64 sweeps from ``u = 1``. The relaxation goes on
    across the switch; ``n_iter`` counts the sweeps of both.

    ``w`` (float64), ``vk`` (the dtype of ``K``), ``vk_low`` (float32), ``t0``
    (float64), all of ``m`` entries, and ``history`` (``RATE_WINDOW + 1``
    entries) are work arrays."""
    n, m = K.shape
    residual = col_factor is not None  # a constant of the compiled specialisation
    phi = phi_a if residual else 1.0
    for j in range(m):
        if not (t[j] > tiny and t[j] < HUGE):
            return 0, np.inf, FAILED, np.inf, np.nan
        t0[j] = t[j]
    low = K_low.shape[0] == n and max_iter > 1
    mass = max(np.sum(a), np.sum(b))  # the copy's error floor is relative to it
    restart, start = True, 0
    err = last = np.inf
    omega, relax, best = 1.0, True, np.inf
    for it in range(max_iter):
        if restart:
            start = it  # the schedule and the checks count from here
            for i in range(n):
                u[i] = 1.0
            for j in range(m):
                v[j] = _col_update(b[j], t0[j], phi_b, col_factor, j)
            omega, relax, best = 1.0, True, np.inf
            history[:] = np.inf
            restart = False
        floor = TINY32 if low else tiny
        checked = check_every == 1 or (it - start) % check_every == 0  # no division by default
        if low:
            ok, row_err, l1, cost = row_sweep(K_low, v, vk_low, a, u, t, omega, phi, residual,
                                              floor, None)  # fmt: skip
        else:
            final = (checked and expected_below(err, last, tol)) or it + 1 == max_iter
            takes = final and C.shape[0] == n
            if takes:
                ok, row_err, l1, cost = row_sweep(K, v, vk, a, u, t, omega, phi, residual, floor,
                                                  C)  # fmt: skip
            else:
                ok, row_err, l1, _ = row_sweep(K, v, vk, a, u, t, omega, phi, residual, floor,
                                               None)  # fmt: skip
                cost = np.nan
        col_err = 0.0
        for j in range(m if ok else 0):
            tj = t[j]
            ok &= (tj > floor) & (tj < HUGE)
            d = tj * v[j] - b[j]
            wj = _col_update(b[j], tj, phi_b, col_factor, j)
            e = tj * (wj - v[j]) if residual else d
            col_err += e * e
            l1 += abs(d)
            w[j] = wj
        if not ok:
            if not low:
                return it + 1, err, FAILED, np.inf, np.nan
            low, restart, err, last = False, True, np.inf, np.inf
            continue
        last = err
        err = math.sqrt(row_err + col_err)
        if low:
            low = not (err < SWITCH * mass or (err >= last and err < STALL * mass)
                       or not err < np.inf or expected_below(err, last, tol)
                       or it + 2 >= max_iter)  # fmt: skip
        elif checked and err < tol:
            return it + 1, err, CONVERGED, l1, cost
        if it + 1 == max_iter:
            break
        for j in range(m):
            v[j] = relaxed(omega, w[j], v[j])
        omega, relax, best = next_omega(it - start, err, omega, relax, best, history)
    return max_iter, err, MAX_ITER, l1, cost


@njit(cache=True, fastmath=FAST, _nrt=False)
def plan_cost(K, C, u, v):
    """``<diag(u) K diag(v), C> = sum_i u_i sum_j K_ij v_j C_ij`` without
    writing the plan, ``BLOCK`` rows at a time (each load of ``v`` serves the
    block; the last block repeats its first row with weight 0)."""
    n, m = K.shape
    cost = 0.0
    for i in range(0, n, BLOCK):
        i1, i2, i3 = min(i + 1, n - 1), min(i + 2, n - 1), min(i + 3, n - 1)
        K0, K1, K2, K3 = K[i], K[i1], K[i2], K[i3]
        C0, C1, C2, C3 = C[i], C[i1], C[i2], C[i3]
        c0 = c1 = c2 = c3 = 0.0
        for j in range(m):
            vj = v[j]
            c0 += K0[j] * C0[j] * vj
            c1 += K1[j] * C1[j] * vj
            c2 += K2[j] * C2[j] * vj
            c3 += K3[j] * C3[j] * vj
        cost += u[i] * c0
        cost += u[i1] * c1 if i1 > i else 0.0
        cost += u[i2] * c2 if i2 > i1 else 0.0
        cost += u[i3] * c3 if i3 > i2 else 0.0
    return cost
