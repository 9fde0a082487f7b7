"""A vectorisable ``exp`` for the kernel builds, in float64 and in float32.

``math.exp`` compiles to a libm call per element (about 10x slower than a SIMD
loop). Here ``exp(x) = 2^k exp(r)`` with ``k = round(x / ln 2)`` and
``r = x - k ln 2`` in ``[-ln2/2, ln2/2]`` (Cody-Waite split of ``ln 2``), and
``exp(r)`` by a polynomial that interpolates it at the Chebyshev nodes of that
interval (near-minimax; coefficients computed in 50-digit arithmetic): degree
11 in float64 (truncation below ``4.3e-18`` relative, as the degree-13 Taylor
polynomial's ``5e-18``, so the result is within 1 ulp of libm), degree 6 in
float32 (truncation ``2.6e-9``, within 1.2 ulp of the exact value), where the
loop runs 16 lanes instead of 8. ``2^k`` is the float whose bits are
``(k + bias) << mantissa bits``, reinterpreted in a register
(:func:`float_from_bits`), so both are branch-free and inline into any loop
that LLVM vectorises.

:func:`exp_normal` (:func:`exp_normal32`) is that ``exp`` alone, for
arguments the caller knows to be at least ``FLOOR + 1`` (``FLOOR``: the log of
the smallest normal number), as a kernel build whose exponents all are.
:func:`exp_clamped` clamps the argument at ``FLOOR - 1``, where ``2^k`` is the
float with all bits 0, so every result is a valid float and that of every
``x <= FLOOR - 0.35`` is exactly 0; :func:`fast_exp` (:func:`fast_exp32`)
then flushes every result below ``tiny`` to 0 (one compare), so that no loop
runs on subnormals. Float32 work takes :func:`exp_like` /
:func:`normal_exp_like` of a float32 array.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

LOG2E = 1.4426950408889634
LN2_HI = 0.693147180369123816490
LN2_LO = 1.90821492927058770002e-10
FLOOR = -708.3964185322641  # log of the smallest normal float64
F32 = np.float32
LOG2E_32 = F32(LOG2E)
LN2_HI_32 = F32(0.693359375)  # 10 significant bits: k * LN2_HI_32 is exact
LN2_LO_32 = F32(-2.12194440e-4)
FLOOR_32 = F32(-87.33654475)  # log of the smallest normal float32
# exp(r) on [-ln2/2, ln2/2]: interpolation at the 12 (7) Chebyshev nodes, low degree first
P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11 = (
    1.0, 1.0, 0.5000000000000019, 0.1666666666666668, 0.0416666666664881,
    0.008333333333319601, 0.0013888888952314775, 0.00019841269890047113,
    2.4801485482328494e-05, 2.755724091857897e-06, 2.763263963904103e-07,
    2.5110037605963777e-08,
)  # fmt: skip
Q0, Q1, Q2, Q3, Q4, Q5, Q6 = (
    F32(c) for c in (1.0, 1.000000037716214, 0.5000000047117757, 0.16666415514653277,
                     0.04166635289677516, 0.008375126398153335, 0.0013941108433972674)
)  # fmt: skip


def float_from_bits(bits):
    """The float64 (float32) with the bit pattern of the int64 (int32)
    ``bits``; compiled, a register bitcast with no memory round trip (the
    NumPy view here runs only with the JIT disabled)."""
    return bits.view(np.float64 if bits.dtype == np.int64 else np.float32)


@intrinsic
def _bitcast(typingctx, bits):
    width = {types.int64: types.float64, types.int32: types.float32}.get(bits)
    if width is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(width))

    return width(bits), codegen


@overload(float_from_bits, inline="always")
def _float_from_bits(bits):
    return lambda bits: _bitcast(bits)


@njit(cache=True, fastmath={"contract"}, inline="always")
def exp_normal(x):
    """``exp(x)`` of a float64 ``FLOOR - 1 <= x <= 709`` (no clamp, no flush:
    within 1 ulp of libm above ``FLOOR``, where the result is a normal
    number; 0 or subnormal below)."""
    k = np.floor(x * LOG2E + 0.5)
    r = x - k * LN2_HI - k * LN2_LO
    p = P11 * r + P10
    p = p * r + P9
    p = p * r + P8
    p = p * r + P7
    p = p * r + P6
    p = p * r + P5
    p = p * r + P4
    p = p * r + P3
    p = p * r + P2
    p = p * r + P1
    p = p * r + P0
    return p * float_from_bits((np.int64(k) + 1023) << 52)


@njit(cache=True, fastmath={"contract"}, inline="always")
def exp_normal32(x):
    """:func:`exp_normal` of a float32 ``FLOOR_32 - 1 <= x <= 88``, in float32
    arithmetic."""
    k = np.floor(x * LOG2E_32 + F32(0.5))
    r = x - k * LN2_HI_32 - k * LN2_LO_32
    p = Q6 * r + Q5
    p = p * r + Q4
    p = p * r + Q3
    p = p * r + Q2
    p = p * r + Q1
    p = p * r + Q0
    return p * float_from_bits(np.int32((np.int32(k) + 127) << 23))


@njit(cache=True, fastmath={"contract"}, inline="always")
def exp_clamped(x):
    """``exp(max(x, FLOOR - 1))`` of a float64 ``x <= 709``: 0 for ``x <=
    FLOOR - 0.35``, possibly subnormal up to ``FLOOR``."""
    return exp_normal(max(x, FLOOR - 1.0))


@njit(cache=True, fastmath={"contract"}, inline="always")
def exp_clamped32(x):
    """:func:`exp_clamped` of a float32 ``x <= 88`` (``FLOOR_32``)."""
    return exp_normal32(max(x, FLOOR_32 - F32(1.0)))


@njit(cache=True, fastmath={"contract"}, inline="always")
def fast_exp(x, tiny):
    """``exp(x)`` of a float64 ``x <= 709``; results below ``tiny`` are 0
    (with ``tiny`` at least the smallest normal number, every ``x < FLOOR``)."""
    e = exp_clamped(x)
    return e if e >= tiny else 0.0


@njit(cache=True, fastmath={"contract"}, inline="always")
def fast_exp32(x, tiny):
    """:func:`fast_exp` of a float32 ``x <= 88``, in float32 arithmetic."""
    e = exp_clamped32(x)
    return e if e >= tiny else F32(0.0)


def exp_like(x, ref, tiny):
    """``exp(x)`` in the dtype of the array ``ref``: :func:`fast_exp32` for
    float32, else :func:`fast_exp` (chosen when compiling)."""
    if ref.dtype == np.float32:
        return fast_exp32(F32(x), F32(tiny))
    return fast_exp(x, tiny)


@overload(exp_like, inline="always")
def _exp_like(x, ref, tiny):
    if ref.dtype == types.float32:
        return lambda x, ref, tiny: fast_exp32(F32(x), F32(tiny))
    return lambda x, ref, tiny: fast_exp(x, tiny)


def normal_exp_like(x, ref):
    """:func:`exp_normal` in the dtype of the array ``ref``
    (:func:`exp_normal32` for float32); ``x`` at least the dtype's
    :func:`floor_like` + 1 gives a normal number."""
    if ref.dtype == np.float32:
        return exp_normal32(F32(x))
    return exp_normal(x)


@overload(normal_exp_like, inline="always")
def _normal_exp_like(x, ref):
    if ref.dtype == types.float32:
        return lambda x, ref: exp_normal32(F32(x))
    return lambda x, ref: exp_normal(x)


def floor_like(ref):
    """``FLOOR`` of the dtype of the array ``ref`` (``FLOOR_32`` for float32),
    as a float."""
    return float(FLOOR_32) if ref.dtype == np.float32 else FLOOR


@overload(floor_like, inline="always")
def _floor_like(ref):
    floor = float(FLOOR_32) if ref.dtype == types.float32 else FLOOR
    return lambda ref: floor


def cast_like(x, ref):
    """``x`` in the dtype of the array ``ref``."""
    return ref.dtype.type(x)


@overload(cast_like, inline="always")
def _cast_like(x, ref):
    dtype = ref.dtype
    return lambda x, ref: dtype(x)
