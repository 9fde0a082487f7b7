"""The vectorised float64 ``exp`` of the kernel builds (base 2) and of the log
domain (base ``e``), and the ``log`` and ``x^phi`` of the generalised updates,
against libm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from otswarm.ot import _fastexp


@njit(cache=True)
def _exp_normal_all(x, out):
    for i in range(x.shape[0]):
        out[i] = _fastexp.exp_normal(x[i])


@njit(cache=True)
def _fast_exp_all(x, tiny, out):
    for i in range(x.shape[0]):
        out[i] = _fastexp.fast_exp(x[i], tiny)


def _ulps(got, want):
    return np.abs(got - want) / np.spacing(want)


def test_exp_normal_is_within_one_ulp_of_libm_over_the_normal_range():
    rng = np.random.default_rng(0)
    x = np.concatenate([
        rng.uniform(_fastexp.FLOOR, 709.0, 20000),  # the whole range
        -rng.exponential(2.0, 20000),  # a kernel's exponents, most near 0
        rng.uniform(-1e-8, 1e-8, 2000),
        [0.0, -0.0, 1.0, -1.0, math.log(2.0), -math.log(2.0), _fastexp.FLOOR, 709.0],
    ])  # fmt: skip
    out = np.empty_like(x)
    _exp_normal_all(x, out)
    want = np.array([math.exp(v) for v in x])
    assert np.max(_ulps(out, want)) <= 1.0
    assert out[-8:-6].tolist() == [1.0, 1.0]  # exp(+-0) exactly 1


def test_fast_exp_flushes_below_tiny_and_never_gives_garbage():
    tiny = float(np.finfo(np.float64).tiny)
    x = np.concatenate([np.linspace(-800.0, _fastexp.FLOOR + 1.0, 5001), [-1e300, -np.inf]])
    out = np.empty_like(x)
    _fast_exp_all(x, tiny, out)
    want = np.array([math.exp(v) for v in x])
    normal = want >= tiny
    assert np.all(out[~normal & (want < tiny * (1 - 1e-12))] == 0.0)
    assert np.all(out[normal] > 0.0) and np.max(_ulps(out[normal], want[normal])) <= 1.0
    assert np.all(np.isfinite(out)) and np.all(out >= 0.0)


@njit(cache=True)
def _exp2_all(x, tiny, out, flushed):
    for i in range(x.shape[0]):
        out[i] = _fastexp.fast_exp2(x[i], 1.0, tiny) if flushed else _fastexp.exp2_normal(x[i], 1.0)


def test_the_base_2_exp_of_the_float64_builds_is_within_one_ulp_of_libm_over_the_normal_range():
    """``exp2_normal`` against libm's ``exp2`` (itself within 0.51 ulp of the
    exact value here) and against ``2^x`` in long double (64-bit mantissa):
    1.2 ulp, as ``exp_normal``."""
    rng = np.random.default_rng(3)
    x = np.concatenate([
        rng.uniform(-1022.0, 1023.0, 20000),
        -rng.exponential(3.0, 20000),  # a kernel's exponents, most near 0
        rng.uniform(-1e-8, 1e-8, 2000),
        np.arange(-1022.0, 1024.0),  # 2^k exactly
        np.arange(-1022.0, 1023.0) + 0.5,  # the ends of the reduced interval
        [0.0, -0.0, -1022.0, 1023.0],
    ])  # fmt: skip
    out = np.empty_like(x)
    _exp2_all(x, 0.0, out, False)
    assert np.max(_ulps(out, np.exp2(x))) <= 1.0
    exact = np.exp2(x.astype(np.longdouble))
    assert np.max(np.abs(out - exact) / np.spacing(exact.astype(np.float64))) <= 1.2
    whole = np.round(x) == x
    assert np.all(out[whole] == np.exp2(x[whole]))


def test_the_flushed_base_2_exp_gives_zeros_below_tiny_and_never_garbage():
    tiny = float(np.finfo(np.float64).tiny)  # 2^-1022
    x = np.concatenate([np.linspace(-1100.0, -1021.0, 7901), [-1023.0, -1e300, -np.inf]])
    out = np.empty_like(x)
    _exp2_all(x, tiny, out, True)
    assert np.all(np.isfinite(out)) and np.all(out >= 0.0)
    assert np.all(out[x < -1022.0] == 0.0)
    normal = x >= -1022.0
    assert np.all(out[normal] > 0.0) and np.max(_ulps(out[normal], np.exp2(x[normal]))) <= 1.0
    other = np.empty(3)
    _exp2_all(np.array([-1021.5, 0.0, 3.25]), 2.0**-1021, other, True)  # a larger tiny
    assert other[0] == 0.0 and other[1] == 1.0 and other[2] == 2.0**3.25


def _spread_arguments(low, high, size=20000):
    """Logarithmically spread positive arguments plus the edges of the binades."""
    rng = np.random.default_rng(7)
    x = np.exp(rng.uniform(low, high, size))
    edges = [1.0, 2.0, 0.5, np.sqrt(0.5), np.nextafter(np.sqrt(2.0), 0.0), np.sqrt(2.0)]
    return np.concatenate([x, edges, 1.0 + rng.uniform(-1e-6, 1e-6, 200)])


def test_the_vectorisable_log_is_within_an_ulp_of_numpys_also_for_subnormals():
    x = np.concatenate([_spread_arguments(-744.0, 709.7), [5e-324, 1e-310, 2.2250738585072014e-308,
                                                          1.7976931348623157e308]])  # fmt: skip
    got = np.array([_fastexp.log_positive(v) for v in x])
    want = np.log(x)
    assert np.all(np.abs(got - want) <= np.spacing(np.abs(want)) + (want == 0.0) * 1e-300)


@pytest.mark.parametrize("phi", [0.05, 0.5, 0.9, 0.9999])
def test_the_vectorisable_power_is_libms_to_the_rounding_of_its_exponent(phi):
    """``x^phi = exp(phi log x)``: relative error within a few ``2^-53 (1 +
    |phi log x|)``; 0 and inf stay 0 and inf (the generalised updates of
    ``_kernel``)."""
    x = _spread_arguments(-700.0, 700.0)
    got = np.array([_fastexp.pow_positive(v, phi) for v in x])
    want = x**phi
    y = np.abs(phi * np.log(x))
    assert np.all(np.abs(got - want) <= 4.0 * (1.0 + y) * 2.0**-53 * want)
    assert _fastexp.pow_positive(0.0, phi) == 0.0 and _fastexp.pow_positive(np.inf, phi) == np.inf
    assert _fastexp.pow_positive(1.0, phi) == 1.0
