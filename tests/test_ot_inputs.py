"""Bad input to otswarm.ot raises OTInputError (an OtswarmError) naming the argument."""

from __future__ import annotations

import math

import numpy as np
import pytest

import otswarm.ot as rot
from otswarm.errors import OtswarmError
from otswarm.ot import OTInputError

pytestmark = pytest.mark.usefixtures("ot_warm")

U3 = np.full(3, 1 / 3)
M33 = np.arange(9.0).reshape(3, 3)

BAD_CALLS = [
    ("a: expected shape", lambda: rot.sinkhorn(U3, U3, M33[:2, :2], 1.0)),
    ("M", lambda: rot.sinkhorn(U3, U3, np.where(M33 > 4, np.nan, M33), 1.0)),
    ("M", lambda: rot.sinkhorn(U3, U3, np.ones(3), 1.0)),
    ("a", lambda: rot.sinkhorn([0.5, 0.6, -0.1], U3, M33, 1.0)),
    ("a", lambda: rot.sinkhorn([0.0, 0.0, 0.0], U3, M33, 1.0)),
    ("b", lambda: rot.sinkhorn(U3, [0.5, math.inf, 0.0], M33, 1.0)),
    ("reg", lambda: rot.sinkhorn(U3, U3, M33, 0.0)),
    ("reg", lambda: rot.sinkhorn(U3, U3, M33, -1.0)),
    ("reg", lambda: rot.sinkhorn(U3, U3, M33, math.nan)),
    ("masses differ", lambda: rot.sinkhorn(U3, 2 * U3, M33, 1.0)),
    ("method", lambda: rot.sinkhorn(U3, U3, M33, 1.0, method="fast")),
    ("max_iter", lambda: rot.sinkhorn(U3, U3, M33, 1.0, max_iter=0)),
    ("init", lambda: rot.sinkhorn(U3, U3, M33, 1.0, init=(np.zeros(2), np.zeros(3)))),
    ("A", lambda: rot.sinkhorn_batch(np.ones((2, 4)) / 4, np.ones((2, 3)) / 3, M33, 1.0)),
    ("M", lambda: rot.sinkhorn_batch([U3] * 2, [U3] * 2, np.stack([M33] * 3), 1.0)),
    ("reg_m", lambda: rot.sinkhorn_unbalanced(U3, U3, M33, 1.0, -2.0)),
    ("reg_m", lambda: rot.sinkhorn_unbalanced(U3, U3, M33, 1.0, (1.0, 2.0, 3.0))),
    ("reg_type", lambda: rot.sinkhorn_unbalanced(U3, U3, M33, 1.0, 1.0, reg_type="l2")),
    ("A", lambda: rot.barycenter(np.ones((3, 2)) / 3, np.ones((3, 3)), 1.0)),
    ("square", lambda: rot.barycenter(np.ones((2, 3)) / 3, np.ones((3, 4)), 1.0)),
    ("weights", lambda: rot.barycenter([U3, U3], M33, 1.0, weights=[1.0, -1.0])),
    ("p", lambda: rot.wasserstein_1d([0.0, 1.0], [2.0], p=0.5)),
    ("x", lambda: rot.wasserstein_1d([0.0, math.nan], [2.0])),
    ("dimensions", lambda: rot.sliced_wasserstein(np.ones((3, 2)), np.ones((3, 3)))),
    (
        "n_projections",
        lambda: rot.sliced_wasserstein(np.ones((3, 2)), np.ones((3, 2)), n_projections=0),
    ),
    ("masses differ", lambda: rot.emd(U3, 2 * U3, M33)),
    ("M_aa", lambda: rot.sinkhorn_divergence(U3, U3, M33, M33[:2, :2], M33, 1.0)),
    ("M_bb", lambda: rot.sinkhorn_divergence(U3, U3, M33, M33, np.full((3, 3), math.nan), 1.0)),
    ("reg", lambda: rot.sinkhorn_divergence(U3, U3, M33, M33, M33, -1.0)),
    ("masses differ", lambda: rot.sinkhorn_divergence(U3, 2 * U3, M33, M33, M33, 1.0)),
    ("kernels", lambda: rot.warmup(kernels=("sinkhorn", "fast_sinkhorn"))),
    ("dtypes", lambda: rot.warmup(kernels=(), dtypes=(np.int32,))),
]


@pytest.mark.parametrize(
    "needle, call", BAD_CALLS, ids=[f"{k}-{c[0]}" for k, c in enumerate(BAD_CALLS)]
)
def test_bad_input_raises_a_typed_error_naming_the_problem(needle, call):
    with pytest.raises(OTInputError, match=needle) as info:
        call()
    assert isinstance(info.value, OtswarmError) and isinstance(info.value, ValueError)


def test_public_names_are_the_design_contract():
    assert set(rot.__all__) == {
        "sinkhorn",
        "sinkhorn_batch",
        "sinkhorn_divergence",
        "sinkhorn_unbalanced",
        "barycenter",
        "wasserstein_1d",
        "sliced_wasserstein",
        "emd",
        "OTResult",
        "OTInputError",
        "warmup",
    }
    with pytest.raises(AttributeError):
        rot.sinkhorn(U3, U3, M33, 1.0).cost = 0.0  # OTResult is immutable
