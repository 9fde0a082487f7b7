"""The vectorised float64 ``exp`` of the kernel builds against libm."""

from __future__ import annotations

import math

import numpy as np
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
