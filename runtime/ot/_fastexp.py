"""A vectorisable ``exp`` for the kernel builds.

``math.exp`` compiles to a libm call per element (about 10x slower than a SIMD
loop). Here ``exp(x) = 2^k exp(r)`` with ``k = round(x / ln 2)`` and
``r = x - k ln 2`` in ``[-ln2/2, ln2/2]`` (Cody-Waite split of ``ln 2``), and
``exp(r)`` by its degree-13 Taylor polynomial (truncation below ``5e-18``
relative, so the result is within 1 ulp of libm). ``2^k`` is the float64 whose
bits are ``(k + 1023) << 52``, reinterpreted in a register (:func:`as_float64`),
so :func:`fast_exp` is branch-free and inlines into any loop that LLVM
vectorises.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

LOG2E = 1.4426950408889634
LN2_HI = 0.693147180369123816490
LN2_LO = 1.90821492927058770002e-10
FLOOR = -708.3964185322641  # log of the smallest normal float64: below it, flush to 0


@intrinsic
def as_float64(typingctx, bits):
    """The float64 with the bit pattern of the int64 ``bits`` (a register
    bitcast, no memory round trip)."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


@njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def fast_exp(x, tiny):
    """``exp(x)`` for ``x <= 709``; results below ``tiny`` (and all of
    ``x <= FLOOR``) are 0."""
    y = max(x, FLOOR)
    k = math.floor(y * LOG2E + 0.5)
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
    e = p * as_float64((np.int64(k) + 1023) << 52)
    return e if (x > FLOOR) & (e >= tiny) else 0.0
