"""Read-only inputs (a message's weights, ``np.broadcast_to``, a read-only
memory map) get the answer of the same arrays writeable, from the kernels
already compiled: the boundary copies them (``_checks.numeric_array``), so no
compiled function of ``otswarm.ot`` ever gets a read-only array type, which
would compile the whole solve again at the first such call."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import numpy as np
import pytest
from numba import njit, types
from numba.core.registry import CPUDispatcher
from ot_cases import cloud_problem

import otswarm.ot as rot

pytestmark = pytest.mark.usefixtures("ot_warm")


def _inputs() -> dict[str, np.ndarray]:
    """Every array argument of the solves below, writeable."""
    rng = np.random.default_rng(60)
    a, b, M = cloud_problem(13, 9, seed=60)
    X, Y = rng.random((13, 3)), rng.random((9, 3))
    A = np.stack([cloud_problem(13, 9, seed=61 + k)[0] for k in range(3)])
    square = ((X[:, None] - X[None]) ** 2).sum(-1)
    return {
        "a": a, "b": b, "M": M, "X": X, "Y": Y, "A": A, "B": A[:, :9] / A[:, :9].sum(1)[:, None],
        "M_aa": square, "M_bb": ((Y[:, None] - Y[None]) ** 2).sum(-1),
        "x": X[:, 0].copy(), "y": Y[:, 0].copy(), "w": np.array([0.2, 0.3, 0.5]),
    }  # fmt: skip


def _32(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32)


SOLVES = {
    "sinkhorn": lambda p: rot.sinkhorn(p["a"], p["b"], p["M"], 0.05).cost,
    "sinkhorn log": lambda p: rot.sinkhorn(p["a"], p["b"], p["M"], 0.05, method="log").cost,
    "sinkhorn float32": lambda p: rot.sinkhorn(_32(p["a"]), _32(p["b"]), _32(p["M"]), 0.05).cost,
    "sinkhorn warm": lambda p: (
        rot.sinkhorn(p["a"], p["b"], p["M"], 0.05, init=(p["a"] * 0, p["b"] * 0)).cost
    ),
    "sinkhorn_unbalanced": lambda p: (
        rot.sinkhorn_unbalanced(p["a"], p["b"], p["M"], 0.05, 1.0).cost
    ),
    "sinkhorn_batch": lambda p: rot.sinkhorn_batch(p["A"][:, :13], p["B"], p["M"], 0.05).cost,
    "sinkhorn_batch of broadcast weights": lambda p: (
        rot.sinkhorn_batch(
            np.broadcast_to(p["a"], (4, 13)), np.broadcast_to(p["b"], (4, 9)), p["M"], 0.05
        ).cost
    ),
    "emd": lambda p: rot.emd(p["a"], p["b"], p["M"]).cost,
    "sinkhorn_divergence": lambda p: rot.sinkhorn_divergence(
        p["a"], p["b"], p["M"], p["M_aa"], p["M_bb"], 0.05
    ),
    "barycenter": lambda p: rot.barycenter(p["A"], p["M_aa"], 0.05, p["w"]),
    "sliced_wasserstein": lambda p: rot.sliced_wasserstein(
        p["X"], p["Y"], p["a"], p["b"], n_projections=8, seed=0
    ),
    "wasserstein_1d": lambda p: rot.wasserstein_1d(p["x"], p["y"], p["a"], p["b"], p=2),
}


def _read_only(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    frozen = {}
    for name, x in inputs.items():
        frozen[name] = x.copy()
        frozen[name].flags.writeable = False
    return frozen


def _ot_modules() -> list:
    return [importlib.import_module(f"otswarm.ot.{info.name}")
            for info in pkgutil.iter_modules(rot.__path__)]  # fmt: skip


def _read_only_signatures(modules) -> list[str]:
    """``module.function(types)`` of every compiled specialisation in
    ``modules`` that takes a read-only array."""
    found = []
    for module in modules:
        for name, value in vars(module).items():
            if not isinstance(value, CPUDispatcher):
                continue
            for signature in value.signatures:
                if any(isinstance(t, types.Array) and not t.mutable for t in signature):
                    found.append(f"{module.__name__}.{name}{signature}")
    return found


@pytest.mark.parametrize("name", list(SOLVES))
def test_read_only_inputs_get_the_same_answer_from_the_same_kernels(name):
    solve = SOLVES[name]
    want = solve(_inputs())
    got = solve(_read_only(_inputs()))
    assert np.all(np.isfinite(want))
    np.testing.assert_array_equal(got, want)
    assert _read_only_signatures(_ot_modules()) == []


def test_the_check_finds_a_read_only_specialisation():
    """:func:`_read_only_signatures` sees one where there is one, and looks
    at every module of the package."""
    scratch = ModuleType("scratch")
    scratch.total = njit(lambda x: x.sum())
    scratch.total(np.ones(3))
    assert _read_only_signatures([scratch]) == []
    scratch.total(_read_only({"x": np.ones(3)})["x"])
    found = _read_only_signatures([scratch])
    assert len(found) == 1 and found[0].startswith("scratch.total(")
    names = {module.__name__ for module in _ot_modules()}
    assert {"otswarm.ot._kernel", "otswarm.ot._solver", "otswarm.ot._plain"} <= names
