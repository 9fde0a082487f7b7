"""The plain path of ``sinkhorn`` (one compiled call of one exact signature per
dtype) and the checked path it leaves everything else to; the factored plan
written over its kernel."""

from __future__ import annotations

import importlib
import re
import threading

import numpy as np
import pytest
from ot_cases import cloud_problem

from otswarm.ot import OTInputError, sinkhorn

pytestmark = pytest.mark.usefixtures("ot_warm")

sinkhorn_module = importlib.import_module("otswarm.ot.sinkhorn")


@pytest.fixture
def checked_calls(monkeypatch):
    """The calls that reached the checked path (which then runs as usual)."""
    calls = []
    checked = sinkhorn_module._checked

    def spy(*args):
        calls.append(args)
        return checked(*args)

    monkeypatch.setattr(sinkhorn_module, "_checked", spy)
    return calls


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("method", ["auto", "kernel", "log"])
@pytest.mark.parametrize("tol", [None, 1e-5])
def test_plain_input_is_solved_without_the_checked_path(checked_calls, dtype, method, tol):
    a, b, M = (x.astype(dtype) for x in cloud_problem(12, 9, seed=40))
    got = sinkhorn(a, b, M, 0.05, method=method, tol=tol)
    assert checked_calls == [] and got.converged and got.plan.dtype == dtype


def _variants(a, b, M):
    """Other forms of the plain problem ``(a, b, M, 0.05)``: ``(args, options,
    whether the plain path takes them)``; a number for ``tol`` converts,
    anything else goes to the checked path."""
    strided_a = np.repeat(a, 2)[::2]
    read_only = M.copy()
    read_only.flags.writeable = False
    return {
        "lists": ((a.tolist(), b.tolist(), M.tolist(), 0.05), {}, False),
        "strided a": ((strided_a, b, M, 0.05), {}, False),
        "read-only M": ((a, b, read_only, 0.05), {}, False),
        "Fortran M": ((a, b, np.asfortranarray(M), 0.05), {}, False),
        "numpy max_iter": ((a, b, M, 0.05), {"max_iter": np.int64(1000)}, False),
        "float32 reg": ((a, b, M, np.float32(0.05)), {}, False),
        "int reg": ((a, b, M * 20.0, 1), {}, False),
        "int tol": ((a, b, M, 0.05), {"tol": 1}, True),
    }


@pytest.mark.parametrize("name", list(_variants(*cloud_problem(3, 2, seed=0))))
def test_other_forms_of_plain_input_get_the_same_answer(checked_calls, name):
    a, b, M = cloud_problem(11, 8, seed=41)
    args, options, plain_signature = _variants(a, b, M)[name]
    reg, tol = float(args[3]), options.get("tol")
    want = sinkhorn(
        a,
        b,
        np.array(args[2], dtype=np.float64, order="C"),
        reg,
        tol=None if tol is None else float(tol),
    )
    assert checked_calls == []
    got = sinkhorn(*args, **options)
    assert len(checked_calls) == (0 if plain_signature else 1)
    assert got.n_iter == want.n_iter and type(got.reg) is float and got.reg == reg
    assert got.cost == pytest.approx(want.cost, rel=1e-13)
    np.testing.assert_allclose(got.f, want.f, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got.plan, want.plan, rtol=1e-12, atol=0)


def test_mixed_dtypes_and_float16_costs_are_solved_in_float64(checked_calls):
    a, b, M = cloud_problem(11, 8, seed=42)
    got = sinkhorn(a.astype(np.float32), b, M, 0.05)
    assert len(checked_calls) == 1 and got.plan.dtype == np.float64
    got = sinkhorn(a, b, M.astype(np.float16), 0.05)
    assert len(checked_calls) == 2 and got.plan.dtype == np.float64 and got.converged


@pytest.mark.parametrize("form", ["arrays", "lists"])
def test_both_paths_log_a_stop_before_tol_and_a_fall_back_to_the_log_domain(
    checked_calls, caplog, form
):
    """The plain path's log lines are the checked path's: an INFO line when a
    solve stops before ``tol`` (``otswarm.ot._driver``), another when
    ``method="kernel"`` was redone in the log domain (``otswarm.ot.sinkhorn``)."""
    a, b, M = cloud_problem(9, 7, seed=47)
    as_form = (lambda x: x.tolist()) if form == "lists" else (lambda x: x)
    with caplog.at_level("INFO", logger="otswarm.ot"):
        stopped = sinkhorn(as_form(a), as_form(b), as_form(M), 0.05, max_iter=2)
        fell_back = sinkhorn(as_form(a), as_form(b), as_form(M * 1e3), 0.05, method="kernel")
    assert len(checked_calls) == (2 if form == "lists" else 0)
    assert not stopped.converged and stopped.n_iter == 2 and stopped.method == "kernel"
    assert fell_back.converged and fell_back.method == "log"
    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert [line[:2] for line in lines] == [("otswarm.ot._driver", "INFO"),
                                            ("otswarm.ot.sinkhorn", "INFO")]  # fmt: skip
    assert re.fullmatch(r"kernel Sinkhorn stopped after 2 iterations, error \S+ > tol 1e-09",
                        lines[0][2])  # fmt: skip
    assert lines[1][2] == ("kernel-domain Sinkhorn under/overflowed (or its flushed entries "
                           "could carry mass) at reg=0.05; used the log domain")  # fmt: skip


@pytest.mark.parametrize(
    "needle, options",
    [
        ("max_iter", {"max_iter": True}),
        ("max_iter", {"max_iter": 2.5}),
        ("max_iter", {"max_iter": 0}),
        ("check_every", {"check_every": 0}),
        ("tol", {"tol": -1.0}),
        ("tol", {"tol": "small"}),
        ("tol", {"tol": float("nan")}),
        ("method", {"method": ["kernel"]}),
    ],
)
def test_bad_options_on_plain_arrays_raise_the_typed_error(needle, options):
    a, b, M = cloud_problem(5, 4, seed=43)
    with pytest.raises(OTInputError, match=needle):
        sinkhorn(a, b, M, 0.05, **options)


@pytest.mark.parametrize("reg", ["small", None, complex(0.05, 0.0), float("inf")])
def test_a_bad_reg_on_plain_arrays_raises_the_typed_error(reg):
    a, b, M = cloud_problem(5, 4, seed=44)
    with pytest.raises(OTInputError, match="reg"):
        sinkhorn(a, b, M, reg)


@pytest.mark.parametrize("shape", [(7, 5), (1, 9), (9, 1), (33, 17)])
def test_a_float32_plan_of_any_shape_is_the_float64_plan(shape):
    """The float32 kernel sits in the float64 buffer of the result (an odd
    ``n m`` leaves half a word); its plan is that of the float64 solve, to
    float32 precision."""
    a, b, M = cloud_problem(*shape, seed=45)
    want = sinkhorn(a, b, M, 0.1, method="kernel")
    got = sinkhorn(a.astype(np.float32), b.astype(np.float32), M.astype(np.float32), 0.1,
                   method="kernel")  # fmt: skip
    assert got.plan.dtype == np.float32 and got.plan.shape == shape
    np.testing.assert_allclose(got.plan, want.plan, rtol=2e-4, atol=1e-7)
    np.testing.assert_allclose(got.f, want.f, rtol=1e-4, atol=1e-5)


def test_threads_reading_one_plan_at_once_get_the_same_right_plan():
    """The plan is written over the kernel once, under a lock: every thread
    sees the same array, equal to ``exp((f_i + g_j - M_ij) / reg)``."""
    a, b, M = cloud_problem(400, 300, seed=46)
    got = sinkhorn(a, b, M, 0.05)
    f, g = got.f, got.g
    start = threading.Barrier(8)
    plans = []

    def read():
        start.wait()
        plans.append(got.plan)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(plans) == 8 and all(p is plans[0] for p in plans)
    np.testing.assert_allclose(plans[0], np.exp((f[:, None] + g[None, :] - M) / 0.05),
                               rtol=1e-9, atol=1e-300)  # fmt: skip
