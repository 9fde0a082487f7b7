"""The agent loads the OT kernels its config's stages call, and no others (issue #14).

The kernels each stage really calls are recorded by wrapping ``otswarm.ot``'s
functions while the stages run: a kernel a stage calls that the agent did not load
fails here, and so does one it loads that nothing calls.
"""

from __future__ import annotations

import functools
import subprocess
import sys

import numpy as np
import pytest

import otswarm.ot
from otswarm.agent.build import agent_kernels, start_loading_kernels
from otswarm.agent.config import parse_config
from otswarm.coordination.costs import TransferCosts
from otswarm.coordination.drift import DriftMonitor
from otswarm.coordination.plans import build_plan, offer_book
from otswarm.energy import load_profile
from otswarm.ot.errors import OTInputError
from otswarm.ot.warmup import ALL_KERNELS
from otswarm.summaries import EnergyOffer


@pytest.fixture
def called(monkeypatch) -> set[str]:
    """The names of the ``otswarm.ot`` kernels called while the test runs."""
    names: set[str] = set()
    for name in ALL_KERNELS:
        kernel = getattr(otswarm.ot, name)

        def recording(*args, _name=name, _kernel=kernel, **kwargs):
            names.add(_name)
            return _kernel(*args, **kwargs)

        monkeypatch.setattr(otswarm.ot, name, functools.wraps(kernel)(recording))
    return names


def _config(drift: bool, method: str, allocation: bool = True):
    return parse_config(
        f'[agent]\nid = "a1"\n[coordination]\ndrift = {str(drift).lower()}\n'
        f'allocation = {str(allocation).lower()}\nallocation_method = "{method}"\n'
    )


def _run_stages(config) -> None:
    """What the config's drift and allocation stages compute in a few rounds."""
    c = config.coordination
    rng = np.random.default_rng(0)
    if c.drift:  # the agent feeds its monitor the harvest, a scalar (agent/loop.py)
        monitor = DriftMonitor(window=4, calibration_windows=2, n_null=5)
        readings = [monitor.observe(float(rng.normal())) for _ in range(16)]
        assert any(r is not None for r in readings)  # a window was compared
    if c.allocation:
        costs = TransferCosts.from_profile(load_profile("rpi4"))
        supplier = EnergyOffer(5.0, 0.0, (0.0, 0.0, 0.0))
        far = {"b": EnergyOffer(0.0, 2.0, (3.0, 0.0, 0.0)), "c": EnergyOffer(0.0, 4.0, (0, 4, 0))}
        # what b must ask for so that the joules sent for it (its gross demand) are
        # exactly the 5 J offered: a balanced round
        loss = offer_book({"a": supplier, "b": far["b"]}, costs).loss
        exact = EnergyOffer(0.0, float(5.0 * (1.0 - loss.min())), (3.0, 0.0, 0.0))
        for offers in ({"a": supplier, "b": exact}, {"a": supplier, **far}):
            plan, _ = build_plan(1, "a", offers, costs, method=c.allocation_method)
            assert plan.transfers


@pytest.mark.parametrize(
    ("drift", "method", "allocation"),
    [
        (True, "ot", True),
        (True, "greedy", True),
        (False, "ot", True),
        (False, "greedy", True),
        (False, "proportional", True),
        (True, "ot", False),
    ],
)
def test_the_agent_loads_exactly_the_kernels_its_stages_call(called, drift, method, allocation):
    config = _config(drift, method, allocation)
    _run_stages(config)
    assert called == set(agent_kernels(config))


def _numba_and_scipy_optimize_loaded_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; whether it left Numba and SciPy's
    ``optimize`` imported."""
    code += "print('numba' in sys.modules, 'scipy.optimize' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", "import sys\n" + code], capture_output=True,
                         text=True, check=True, timeout=300)  # fmt: skip
    return out.stdout.split()


def test_an_agent_that_calls_no_kernel_does_not_import_numba():
    code = (
        "from otswarm.agent.build import agent_kernels, load_kernels\n"
        "from otswarm.agent.config import parse_config\n"
        "for extra in ('', 'drift = true\\nalignment = true\\n'):\n"  # defaults; the demo's
        "    config = parse_config('[agent]\\nid = \"a1\"\\n[coordination]\\n' + extra)\n"
        "    assert agent_kernels(config) == ()\n"
        "    assert load_kernels(agent_kernels(config)) == 0.0\n"
    )
    assert _numba_and_scipy_optimize_loaded_after(code) == ["False", "False"]


def test_loading_the_ot_allocations_kernels_leaves_scipy_optimize_out():
    code = (
        "from otswarm.agent.build import load_kernels\n"
        "assert load_kernels(('sinkhorn', 'sinkhorn_unbalanced')) > 0\n"
    )
    assert _numba_and_scipy_optimize_loaded_after(code) == ["True", "False"]


def test_kernels_load_on_a_thread_and_the_build_gets_their_time():
    assert start_loading_kernels(()).result(timeout=10) == 0.0  # none: no Numba
    assert start_loading_kernels(("wasserstein_1d",)).result(timeout=300) > 0.0


def test_a_kernel_that_fails_to_load_fails_the_build_with_its_typed_error():
    loading = start_loading_kernels(("no_such_kernel",))
    with pytest.raises(OTInputError, match="no_such_kernel"):
        loading.result(timeout=60)
