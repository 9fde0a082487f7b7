"""A vectorisable ``exp`` for the kernel builds, in float64 and in float32.

``math.exp`` compiles to a libm call per element (about 10x slower than a SIMD
loop). Here ``exp(x) = 2^k exp(r)`` with ``k = round(x / ln 2)`` and
``r = x - k ln 2`` in ``[-ln2/2, ln2/2]`` (Cody-Waite split of ``ln 2``), and
``exp(r)`` by its Taylor polynomial: degree 13 in float64 (truncation below
``5e-18`` relative, so the result is within 1 ulp of libm), degree 7 in
float32 (truncation ``5e-9``, within 1.2 ulp of the exact value), where the
loop runs 16 lanes instead of 8. ``2^k`` is the float whose bits are
``(k + bias) << mantissa bits``, reinterpreted in a register
(:func:`float_from_bits`), so both are branch-free and inline into any loop
that LLVM vectorises. Float32 work takes :func:`exp_like` of a float32 array.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

LOG2E = 1.4426950408889634
LN2_HI = 0.693147180369123816490
LN2_LO = 1.90821492927058770002e-10
FLOOR = -708.3964185322641  # log of the smallest normal float64: below it, flush to 0
F32 = np.float32
LOG2E_32 = F32(LOG2E)
LN2_HI_32 = F32(0.693359375)  # 10 significant bits: k * LN2_HI_32 is exact
LN2_LO_32 = F32(-2.12194440e-4)
FLOOR_32 = F32(-87.33654475)  # log of the smallest normal float32


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


@njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def fast_exp(x, tiny):
    """``exp(x)`` of a float64 ``x <= 709``; results below ``tiny`` (and all
    of ``x <= FLOOR``) are 0."""
    y = max(x, FLOOR)
    k = np.floor(y * LOG2E + 0.5)
    r = y - k * LN2_HI - k * LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    e = p * float_from_bits((np.int64(k) + 1023) << 52)
    return e if (x > FLOOR) & (e >= tiny) else 0.0


@njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def fast_exp32(x, tiny):
    """``exp(x)`` of a float32 ``x <= 88``, in float32 arithmetic; results
    below ``tiny`` (and all of ``x <= FLOOR_32``) are 0."""
    y = max(x, FLOOR_32)
    k = np.floor(y * LOG2E_32 + F32(0.5))
    r = y - k * LN2_HI_32 - k * LN2_LO_32
    p = F32(1.0 / 5040.0)
    p = p * r + F32(1.0 / 720.0)
    p = p * r + F32(1.0 / 120.0)
    p = p * r + F32(1.0 / 24.0)
    p = p * r + F32(1.0 / 6.0)
    p = p * r + F32(0.5)
    p = p * r + F32(1.0)
    p = p * r + F32(1.0)
    e = p * float_from_bits(np.int32((np.int64(k) + 127) << 23))
    return e if (x > FLOOR_32) & (e >= tiny) else F32(0.0)


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


def cast_like(x, ref):
    """``x`` in the dtype of the array ``ref``."""
    return ref.dtype.type(x)


@overload(cast_like, inline="always")
def _cast_like(x, ref):
    dtype = ref.dtype
    return lambda x, ref: dtype(x)
