"""A vectorisable ``exp`` for the kernel builds, in float64 and in float32.

``math.exp`` compiles to a libm call per element (about 10x slower than a SIMD
loop). Every ``exp`` here is ``2^k 2^f`` for an integer ``k``: ``2^k`` is the
float whose bits are ``(k + bias) << mantissa bits``, reinterpreted in a
register (:func:`float_from_bits`), so all are branch-free and inline into
any loop that LLVM vectorises.

The kernel builds work in base 2 (:func:`exp2_normal`, float64, 4 lanes;
:func:`exp2_normal32`, float32, 8 lanes): they take ``2^(d s)`` with ``d =
beta_j - M_ij`` and ``s = log2(e) / eps`` rounded once to the dtype (as ``1 /
eps`` itself is in base ``e``, so the exponents are as exact), and the
reduction is exact and costs additions: ``y = d s + MAGIC`` (``1.5 *
2^52``, ``1.5 * 2^23`` in float32, where the spacing of the floats is 1)
rounds ``d s`` to the nearest integer ``k = y - MAGIC``, whose bits are the
low bits of ``y`` (``2^k`` is one integer addition and shift of them; AVX2
has no vector float64-to-int64 conversion, which LLVM would do one lane at
a time), and ``f = d s - k`` is in ``[-1/2, 1/2]``, both taken in fused
multiply-adds (:func:`fma`), so the product is never rounded.

float64: ``2^f`` by the degree-11 polynomial that interpolates it at the 12
Chebyshev nodes of ``[-1/2, 1/2]`` (:data:`EXP2_F`; near-minimax,
coefficients computed in 50-digit arithmetic; truncation below ``4.3e-18``
relative, ``2e-17`` with them rounded), evaluated as ``c_0 + f (c_1 + f t)``
with the tail ``t`` of degree 9 by Estrin's scheme (pairs, then powers ``f^2,
f^4``): a dependency chain of about 6 fused multiply-adds instead of
Horner's 11, while the last two steps, which set the leading bits, stay
Horner's (all-Estrin is 2 ulp). The base-2 form takes 16 multiplications and
multiply-adds per entry where the base-``e`` one (:func:`exp_normal`) takes 18
(its reduction ``r = x - k ln 2`` needs ``x / ln 2`` and a two-part ``ln 2``,
and the build's exponent ``d (1 / eps)`` one more); the multiply-add units
are the build's bottleneck.

float32: ``2^f`` by the degree-6 polynomial that interpolates it at the 7
Chebyshev nodes of ``[-1/2, 1/2]`` (computed in long double; truncation
``2.5e-9`` relative, ``1.9e-8`` with the coefficients rounded to float32):
13 vector operations per 16 entries where a base-``e`` form takes 16.

Both are for exponents the caller knows give a normal result (``d s >=
-1022``, ``-126`` in float32), as a kernel build whose reduced costs spread
over less than the log of the smallest normal number does;
:func:`fast_exp2` and :func:`fast_exp2_32` first clamp the exponent where
``2^k`` is the float with all bits 0 (every result a valid float, 0 far
below) and then flush every result below ``tiny`` to 0 (one compare), so
that no loop runs on subnormals. A build takes :func:`kernel_exp_like` /
:func:`normal_kernel_exp_like` of its kernel.

:func:`exp_normal` (base ``e``: ``exp(x) = 2^k exp(r)`` with ``k =
round(x / ln 2)`` and ``r = x - k ln 2`` in ``[-ln2/2, ln2/2]``, a
Cody-Waite split of ``ln 2``, and ``exp(r)`` by the degree-11 polynomial
interpolating it at the 12 Chebyshev nodes of that interval, within 1 ulp
of libm) is the ``exp`` of a natural exponent: the log domain's kernels
(:func:`fast_exp`, clamped and flushed as above, at ``FLOOR - 1``) and
:func:`pow_positive`.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

LOG2E = 1.4426950408889634
LN2_HI = 0.693147180369123816490
LN2_LO = 1.90821492927058770002e-10
FLOOR = -708.3964185322641  # log of the smallest normal float64
F32 = np.float32
FLOOR_32 = F32(-87.33654475)  # log of the smallest normal float32
# exp(r) on [-ln2/2, ln2/2]: interpolation at the 12 Chebyshev nodes, low degree first
EXP_R = (
    1.0, 1.0, 0.5000000000000019, 0.1666666666666668, 0.0416666666664881,
    0.008333333333319601, 0.0013888888952314775, 0.00019841269890047113,
    2.4801485482328494e-05, 2.755724091857897e-06, 2.763263963904103e-07,
    2.5110037605963777e-08,
)  # fmt: skip
MAGIC_64 = 1.5 * 2.0**52  # x + MAGIC_64 rounds x (|x| < 2^51) to an integer
MAGIC_BITS_64 = 0x4338000000000000  # the bits of MAGIC_64, as MAGIC_BITS for float32
MAGIC_32 = F32(1.5 * 2**23)  # x + MAGIC_32 rounds x (|x| < 2^22) to an integer
MAGIC_BITS = 0x4B400000  # the bits of MAGIC_32: those of x + MAGIC_32 are MAGIC_BITS + round(x)
# log(1 + f) = 2 atanh(s), s = f / (2 + f): fdlibm's minimax (|s| <= 0.1716) of
# (2 atanh(s) - 2 s) / s = LG1 s^2 + LG2 s^4 + ... + LG7 s^14 (error below 2^-58.45)
LG1, LG2, LG3, LG4, LG5, LG6, LG7 = (
    6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
    2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
    1.479819860511658591e-01,
)  # fmt: skip
SQRT_HALF_BITS = 0x3FE6A09E667F3BCD  # the bits of sqrt(1/2)
TINY_64 = 2.2250738585072014e-308  # the smallest normal float64
# 2^f on [-1/2, 1/2]: interpolation at the 12 Chebyshev nodes (50 digits), low degree first
EXP2_F = (
    1.0, 0.6931471805599453, 0.24022650695910158, 0.055504108664821625,
    0.009618129107587256, 0.001333355814640647, 0.00015403530463724353,
    1.5252733841556773e-05, 1.3215432535912375e-06, 1.0178057087733941e-07,
    7.074194297288521e-09, 4.4558179083360645e-10,
)  # fmt: skip
# 2^r on [-1/2, 1/2]: interpolation at the 7 Chebyshev nodes, low degree first (the middle
# node is 0, so R0 = 1 exactly)
R0, R1, R2, R3, R4, R5, R6 = (
    F32(c) for c in (1.0, 0.6931472067028326, 0.24022650922288757, 0.05550327226670302,
                     0.009618056678524632, 0.001340042817761586, 0.00015461444698570991)
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


def bits_of_float(x):
    """The int64 (int32) with the bit pattern of the float64 (float32) ``x``
    (the inverse of :func:`float_from_bits`); compiled, a register bitcast."""
    x = np.asarray(x)
    return x.view(np.int32 if x.dtype == np.float32 else np.int64)[()]


@intrinsic
def _bits(typingctx, x):
    width = {types.float64: types.int64, types.float32: types.int32}.get(x)
    if width is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(width))

    return width(x), codegen


@overload(bits_of_float, inline="always")
def _bits_of_float(x):
    return lambda x: _bits(x)


def fma(a, b, c):
    """``a b + c`` of float32 (or float64) ``a, b, c`` rounded once: compiled,
    one fused multiply-add (``llvm.fma``); with the JIT disabled, exactly
    (float32: in float64, where the product of two float32 is exact; float64:
    in fractions), then rounded to the dtype."""
    if isinstance(a, np.float32):
        return np.float32(np.float64(a) * np.float64(b) + np.float64(c))
    return float(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))


@intrinsic
def _fma(typingctx, a, b, c):
    if not (a == b == c and a in (types.float32, types.float64)):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return a(a, b, c), codegen


@overload(fma, inline="always")
def _fma_overload(a, b, c):
    return lambda a, b, c: _fma(a, b, c)


@njit(cache=True, fastmath={"contract"}, inline="always")
def exp_normal(x):
    """``exp(x)`` of a float64 ``FLOOR - 1 <= x <= 709`` (no clamp, no flush:
    within 1 ulp of libm above ``FLOOR``, where the result is a normal
    number; 0 or subnormal below). ``y = x / ln 2 + MAGIC_64`` rounds to ``k
    = y - MAGIC_64``; ``2^k`` has the bits ``(k + 1023) << 52``, from the bits
    of ``y``; ``exp(r)`` by :func:`_scaled_polynomial` of :data:`EXP_R`."""
    y = x * LOG2E + MAGIC_64
    k = y - MAGIC_64
    return _scaled_polynomial(x - k * LN2_HI - k * LN2_LO, y, EXP_R)


@njit(cache=True, fastmath={"contract"}, inline="always")  # no reassoc: y - MAGIC_64 stays
def exp2_normal(d, s):
    """``2^(d s)`` of float64 ``d, s`` with ``-1022 <= d s <= 1023`` (a normal
    result): within 1 ulp of libm's ``exp2`` of the exact product (1.2 of
    the exact value); 0 or subnormal down to ``-1023``. ``y = d s +
    MAGIC_64`` rounds ``d s`` to ``k = y - MAGIC_64`` and ``f = d s - k`` is
    in ``[-1/2, 1/2]``, both by :func:`fma` (the product is never rounded:
    the exponent's only errors are those of ``d`` and ``s``); ``2^k`` has the
    bits ``(k + 1023) << 52``, from the bits of ``y``; ``2^f`` by
    :func:`_scaled_polynomial` of :data:`EXP2_F`."""
    y = fma(d, s, MAGIC_64)
    return _scaled_polynomial(fma(d, s, -(y - MAGIC_64)), y, EXP2_F)


@njit(cache=True, fastmath={"contract"}, inline="always")
def _scaled_polynomial(r, y, c):
    """``2^k p(r)`` of the float64 exps: ``p(r) = c_0 + r (c_1 + r t)`` of
    degree 11 (``c``: 12 coefficients, low degree first), the tail ``t`` of
    degree 9 by Estrin's scheme (pairs, then the powers ``r^2, r^4``); ``2^k``
    has the bits ``(k + 1023) << 52``, from those of ``y = k + MAGIC_64``."""
    r2 = r * r
    r4 = r2 * r2
    low = (c[2] + c[3] * r) + (c[4] + c[5] * r) * r2
    high = ((c[6] + c[7] * r) + (c[8] + c[9] * r) * r2) + (c[10] + c[11] * r) * r4
    p = c[0] + r * (c[1] + r * (low + r4 * high))
    return p * float_from_bits((bits_of_float(y) - (MAGIC_BITS_64 - 1023)) << 52)


@njit(cache=True, fastmath={"contract"}, inline="always")
def fast_exp2(d, s, tiny):
    """``2^(d s)`` of float64 ``d``, ``s > 0`` with ``d s <= 1023``, ``d`` first
    clamped at ``-1023 / s`` (so ``2^k`` is at least the float with all bits
    0); results below ``tiny`` (at least the smallest normal float64) are 0."""
    e = exp2_normal(max(d, -1023.0 / s), s)
    return e * (e >= tiny)  # e, or 0 below tiny (a product: a ternary here, inlined twice
    # into one build, trips Numba's check of its variables' scopes)


@njit(cache=True, fastmath={"contract"}, inline="always")  # no reassoc: y - MAGIC_32 stays
def exp2_normal32(d, s):
    """``2^(d s)`` of float32 ``d, s`` with ``-127 <= d s <= 127``, in float32
    arithmetic: within about 1 ulp of ``2^(d s)`` (``d s`` exact) above
    ``-126`` (a normal result), 0 or subnormal below, exactly 0 from ``-127``.
    ``y = d s + MAGIC_32`` rounds ``d s`` to ``k = y - MAGIC_32`` and ``r = d s -
    k`` is in ``[-1/2, 1/2]``, both by :func:`fma` (the product is never
    rounded: the exponent's only errors are those of ``d`` and ``s``); ``2^k``
    has the bits ``(k + 127) << 23``, from the bits of ``y``."""
    y = fma(d, s, MAGIC_32)
    r = fma(d, s, -(y - MAGIC_32))
    p = R6 * r + R5
    p = p * r + R4
    p = p * r + R3
    p = p * r + R2
    p = p * r + R1
    p = p * r + R0
    return p * float_from_bits(np.int32((bits_of_float(y) - (MAGIC_BITS - 127)) << 23))


@njit(cache=True, fastmath={"contract"}, inline="always")
def fast_exp2_32(d, s, tiny):
    """``2^(d s)`` of float32 ``d``, ``s > 0`` with ``d s <= 127``, ``d`` first
    clamped at ``-127 / s`` (so ``2^k`` is at least the float with all bits
    0); results below ``tiny`` (at least the smallest normal float32) are 0."""
    e = exp2_normal32(max(d, F32(-127.0) / s), s)
    return e * F32(e >= tiny)  # e, or 0 below tiny (a product, as in fast_exp2)


@njit(cache=True, fastmath={"contract"}, inline="always")
def exp_clamped(x):
    """``exp(max(x, FLOOR - 1))`` of a float64 ``x <= 709``: 0 for ``x <=
    FLOOR - 0.35``, possibly subnormal up to ``FLOOR``."""
    return exp_normal(max(x, FLOOR - 1.0))


@njit(cache=True, fastmath={"contract"}, inline="always")
def fast_exp(x, tiny):
    """``exp(x)`` of a float64 ``x <= 709``; results below ``tiny`` are 0
    (with ``tiny`` at least the smallest normal number, every ``x < FLOOR``)."""
    e = exp_clamped(x)
    return e if e >= tiny else 0.0


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


def kernel_exp_like(d, s, ref, tiny):
    """``2^(d s)`` in the dtype of ``ref``, results below ``tiny`` flushed to
    0: :func:`fast_exp2_32` for float32, else :func:`fast_exp2` (a build's
    ``s`` is ``log2(e) / eps``)."""
    if ref.dtype == np.float32:
        return fast_exp2_32(F32(d), F32(s), F32(tiny))
    return fast_exp2(d, s, tiny)


@overload(kernel_exp_like, inline="always")
def _kernel_exp_like(d, s, ref, tiny):
    if ref.dtype == types.float32:
        return lambda d, s, ref, tiny: fast_exp2_32(F32(d), F32(s), F32(tiny))
    return lambda d, s, ref, tiny: fast_exp2(d, s, tiny)


def normal_kernel_exp_like(d, s, ref):
    """:func:`kernel_exp_like` without clamp or flush, for exponents of at
    least :func:`floor_like` + 1 in natural units: :func:`exp2_normal32` for
    float32, else :func:`exp2_normal`."""
    if ref.dtype == np.float32:
        return exp2_normal32(F32(d), F32(s))
    return exp2_normal(d, s)


@overload(normal_kernel_exp_like, inline="always")
def _normal_kernel_exp_like(d, s, ref):
    if ref.dtype == types.float32:
        return lambda d, s, ref: exp2_normal32(F32(d), F32(s))
    return lambda d, s, ref: exp2_normal(d, s)


@njit(cache=True, fastmath={"contract"}, inline="always")
def log_positive(x):
    """``log(x)`` of a float64 ``0 < x < inf`` (normal or subnormal), with no
    branch, so that a loop of it vectorises (libm's is a call per element):
    ``x = 2^k m`` with ``m`` in ``[sqrt(1/2), sqrt(2))`` (``k`` and ``m``
    from the bits of ``x``, a subnormal first scaled by ``2^64``), then
    fdlibm's ``log(m) = f - s (f - R(s^2))`` with ``f = m - 1``, ``s = f / (2 +
    f)`` (:data:`LG1` ...) and ``k ln 2`` in two parts (Cody-Waite): within
    about 1 ulp of libm."""
    sub = x < TINY_64
    bits = bits_of_float(x * 18446744073709551616.0 if sub else x)
    k = (bits - SQRT_HALF_BITS) >> 52
    f = float_from_bits(bits - (k << 52)) - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7))) + w * (LG2 + w * (LG4 + w * LG6))
    dk = float(k) - (64.0 if sub else 0.0)
    return dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f)


@njit(cache=True, fastmath={"contract"}, inline="always")
def pow_positive(x, phi):
    """``x^phi`` of a float64 ``x >= 0`` (``inf`` allowed) and ``0 < phi <=
    1``: ``exp(phi log x)`` by :func:`log_positive` and :func:`exp_clamped`,
    branch-free (vectorises, where ``x ** phi`` is a libm call per element).
    Relative error about ``(1 + |phi log x|) 2^-53`` (the rounding of ``phi
    log x``); 0 for ``x = 0`` and results below about ``exp(FLOOR)`` (libm:
    subnormals), ``inf`` for ``x = inf``."""
    p = exp_clamped(phi * log_positive(x))
    return x if (x == 0.0) | (x == np.inf) else p
