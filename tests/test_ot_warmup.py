"""``warmup()`` loads only what the agent runs, and ``import otswarm.ot`` stays light."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import otswarm.ot as o
from otswarm.ot import _lanes, barycenter, batch, _solver, one_d, result
{call}
print(json.dumps({{
    "lanes": len(_lanes.solve_lanes.signatures),
    "batch": len(batch._solve_stabilized.signatures),
    "barycenter": len(sys.modules["otswarm.ot.barycenter"]._ibp_kernel.signatures),
    "sinkhorn": [str(s) for s in _solver.solve_problem.signatures],
    "one_d": len(one_d.quantile_distance_p.signatures),
    "potentials": len(result.potentials.signatures),
    "scipy": sorted(m for m in sys.modules if m.startswith(("scipy.optimize", "scipy.sparse",
                                                            "scipy.special"))),
}}))
"""


def _probe(call: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(call=call)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_default_warmup_compiles_the_agents_kernels_only_in_float64():
    got = _probe("o.warmup()")
    assert got["lanes"] == got["batch"] == got["barycenter"] == 0
    assert got["sinkhorn"] and all("float32" not in s for s in got["sinkhorn"])
    assert got["one_d"] >= 1
    assert got["potentials"] == 1  # read on first access of result.f / .g: loaded ahead too


def test_warmup_all_compiles_batch_and_barycenter_in_both_dtypes():
    got = _probe("o.warmup(kernels='all', dtypes=('float64', 'float32'))")
    assert got["lanes"] == 2 and got["batch"] == 2 and got["barycenter"] == 1
    assert any("float32" in s for s in got["sinkhorn"])


def test_import_does_not_load_scipy_optimize_sparse_or_special():
    assert _probe("")["scipy"] == []
