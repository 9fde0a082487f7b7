"""The compiled solvers leave no NRT memory behind.

The passes that allocate nothing are compiled without NRT (``_nrt=False``: no
atomic reference counts on their array arguments, see
:mod:`otswarm.ot._kernel`), and so is the plain path of small problems
(:func:`otswarm.ot._plain.checked_kernel_solve`), its work in the result's
buffer. A
function compiled without NRT never frees an array a callee returns to it,
so such a mistake leaks on every call. These tests count NRT's allocations
and frees around every public solve form, on inputs that take the paths that
do allocate (the float32 copy of a float64 kernel, float32 column ranges,
the log domain and the fall back to it, unbalanced column factors, batches
in lanes and stabilised, zero weights), with the plan and potentials read,
and require one free for each allocation."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from numba import njit
from numba.core.runtime import _nrt_python, rtsys
from ot_cases import cloud_problem

import otswarm.ot as rot
from otswarm.ot import _kernel, _plain
from otswarm.ot._solver import work_size
from otswarm.ot.result import factored_size

pytestmark = pytest.mark.usefixtures("ot_warm")


def _problem(n: int, m: int, dtype=np.float64, seed: int = 70):
    a, b, M = cloud_problem(n, m, seed=seed)
    return a.astype(dtype), b.astype(dtype), (M / M.max()).astype(dtype)


def _with_zeros(n: int, m: int):
    a, b, M = _problem(n, m)
    a[::4] = 0.0
    return a / a.sum(), b, M


COPY_SIDE = 128  # 128 x 128 >= _kernel.LOW_MIN: the float64 sweeps start on a float32 copy
NARROW_SIDE = 80  # 80 x 80 >= _kernel.NARROW_RANGE_MIN: float32 column ranges in float32


def _batch(reg: float):
    """A batch of 5 problems of 16 x 16 on one cost."""
    problems = [_problem(16, 16, seed=s) for s in range(5)]
    A, B = np.stack([p[0] for p in problems]), np.stack([p[1] for p in problems])
    return rot.sinkhorn_batch(A, B, problems[0][2], reg)


def _read(result) -> None:
    """Every field of a result, the deferred plan and potentials computed."""
    np.asarray(result.plan), np.asarray(result.f), np.asarray(result.g)


SOLVES = {
    "sinkhorn": lambda: _read(rot.sinkhorn(*_problem(16, 16), 0.05)),
    "sinkhorn on a float32 copy": lambda: _read(
        rot.sinkhorn(*_problem(COPY_SIDE, COPY_SIDE), 0.05)
    ),
    "sinkhorn float32, narrow ranges": lambda: _read(
        rot.sinkhorn(*_problem(NARROW_SIDE, NARROW_SIDE, np.float32), 0.05)
    ),
    "sinkhorn log": lambda: _read(rot.sinkhorn(*_problem(20, 12), 0.05, method="log")),
    "sinkhorn kernel falling back to log": lambda: _read(
        rot.sinkhorn(*_problem(20, 12), 1e-4, method="kernel")
    ),
    "sinkhorn with zero weights": lambda: _read(rot.sinkhorn(*_with_zeros(20, 12), 0.05)),
    "sinkhorn warm": lambda: _read(
        rot.sinkhorn(*_problem(20, 12), 0.05, init=(np.zeros(20), np.zeros(12)))
    ),
    "sinkhorn_unbalanced": lambda: _read(rot.sinkhorn_unbalanced(*_problem(20, 12), 0.05, 1.0)),
    "sinkhorn_batch": lambda: _read(_batch(0.05)),
    "sinkhorn_batch stabilised": lambda: _read(_batch(1e-3)),
    "sinkhorn_divergence": lambda: rot.sinkhorn_divergence(
        *_problem(12, 12)[:2], _problem(12, 12)[2], _problem(12, 12)[2], _problem(12, 12)[2], 0.05
    ),
    "barycenter": lambda: rot.barycenter(
        np.stack([_problem(12, 12, seed=s)[0] for s in range(3)]), _problem(12, 12)[2], 0.05
    ),
    "emd": lambda: _read(rot.emd(*_problem(20, 12))),
    "sliced_wasserstein": lambda: rot.sliced_wasserstein(
        np.random.default_rng(1).random((20, 3)),
        np.random.default_rng(2).random((12, 3)),
        n_projections=8,
        seed=0,
    ),
}


@pytest.fixture(scope="module")
def counted():
    """NRT's allocation counters on for this module (off by default: they
    cost an atomic operation per allocation), restored after."""
    was_on = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    yield
    if not was_on:
        _nrt_python.memsys_disable_stats()


def _outstanding() -> tuple[int, int]:
    """(blocks, meminfos) allocated and not yet freed, this process."""
    gc.collect()
    stats = rtsys.get_allocation_stats()
    return stats.alloc - stats.free, stats.mi_alloc - stats.mi_free


def test_the_inputs_take_the_paths_that_allocate():
    assert COPY_SIDE * COPY_SIDE >= _kernel.LOW_MIN
    assert NARROW_SIDE * NARROW_SIDE >= _kernel.NARROW_RANGE_MIN
    assert rot.sinkhorn(*_problem(20, 12), 1e-4, method="kernel").method == "log"


@pytest.mark.parametrize("name", SOLVES)
def test_a_solve_frees_all_it_allocates(counted, name):
    solve = SOLVES[name]
    solve()  # compiled and loaded before counting
    before = _outstanding()
    for _ in range(3):
        solve()
    assert _outstanding() == before


@njit(cache=False)
def _fresh(n):
    return np.empty(n)


def test_the_count_sees_a_leak(counted):
    """The counters do count: an NRT array kept alive is outstanding."""
    _fresh(4)
    before = _outstanding()
    kept = _fresh(4)
    assert _outstanding() == (before[0] + 1, before[1] + 1)
    del kept
    assert _outstanding() == before


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (16, 16), (13, 9), (90, 100)])
def test_the_plain_buffer_has_the_room_of_its_layout(shape, dtype):
    """``sinkhorn`` writes the length of its buffer out (the layout of
    :mod:`otswarm.ot._plain`); the result keeps the plan's and the solve's
    work, no more, no less, on both compiled solvers (90 x 100 is not
    small)."""
    n, m = shape
    rng = np.random.default_rng(n * m)
    M = rng.random(shape).astype(dtype)
    a, b = np.full(n, 1 / n, dtype), np.full(m, 1 / m, dtype)
    held = tuple.__getitem__(rot.sinkhorn(a, b, M, 0.5), 0)  # the plan, still factored
    expected = factored_size(n, m, M.itemsize) + n + 3 * m + work_size(m)
    assert (n * m < _plain.SMALL) == (shape != (90, 100))
    assert held.buffer.shape == (expected,)
