"""Closed-form 1-D OT on an ordered support, checked against POT."""

from __future__ import annotations

import numpy as np
import ot as pot
import pytest

from otswarm.coordination.errors import HistogramError
from otswarm.coordination.quantile import (
    barycenter_1d,
    displacement_interpolate,
    linear_binning,
    max_pairwise_w1,
    monotone_kernel,
    w1_to_all,
)

LEVELS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])


def _random_hists(rng, m, n=5):
    return rng.dirichlet(np.full(n, 0.7), size=m)


def test_barycenter_of_two_diracs_is_the_midpoint():
    p, q = np.eye(5)[0], np.eye(5)[4]
    np.testing.assert_allclose(barycenter_1d([p, q], LEVELS), np.eye(5)[2], atol=1e-12)
    # 30% of the way from 0 to 1 is 0.3: split between 0.25 and 0.5, mean kept
    moved = displacement_interpolate(p, q, 0.3, LEVELS)
    np.testing.assert_allclose(moved, [0, 0.8, 0.2, 0, 0], atol=1e-12)


def test_interpolation_lies_on_the_geodesic_when_no_binning_is_needed():
    rng = np.random.default_rng(1)
    p, q = _random_hists(rng, 2)
    mid = displacement_interpolate(p, q, 0.5, LEVELS)
    total = pot.wasserstein_1d(LEVELS, LEVELS, p, q, p=1)
    # binning only moves mass between neighbouring points, so each half is within one gap
    gap = 0.25
    assert abs(pot.wasserstein_1d(LEVELS, LEVELS, p, mid, p=1) - total / 2) <= gap
    np.testing.assert_allclose(displacement_interpolate(p, q, 0.0, LEVELS), p, atol=1e-12)
    np.testing.assert_allclose(displacement_interpolate(p, q, 1.0, LEVELS), q, atol=1e-12)


def test_barycenter_mean_is_the_weighted_mean_of_means():
    rng = np.random.default_rng(2)
    hists = _random_hists(rng, 6)
    weights = rng.uniform(0.1, 1.0, 6)
    bary = barycenter_1d(hists, LEVELS, weights)
    assert bary.sum() == pytest.approx(1.0)
    expected = np.average(hists @ LEVELS, weights=weights)
    assert bary @ LEVELS == pytest.approx(expected, abs=1e-12)  # linear binning keeps the mean


def test_barycenter_of_barycenters_equals_the_global_barycenter_up_to_binning():
    rng = np.random.default_rng(3)
    hists = _random_hists(rng, 12)
    groups = [hists[:5], hists[5:9], hists[9:]]
    heads = np.array([barycenter_1d(g, LEVELS) for g in groups])
    two_level = barycenter_1d(heads, LEVELS, [len(g) for g in groups])
    direct = barycenter_1d(hists, LEVELS)
    # each binning is 1-Lipschitz and moves mass at most one gap: two levels differ < 1 gap
    assert pot.wasserstein_1d(LEVELS, LEVELS, two_level, direct) < 0.25
    assert two_level @ LEVELS == pytest.approx(direct @ LEVELS, abs=1e-12)


def test_w1_closed_forms_match_pot():
    rng = np.random.default_rng(4)
    hists = _random_hists(rng, 7)
    pairwise = [
        pot.wasserstein_1d(LEVELS, LEVELS, hists[i], hists[j], p=1)
        for i in range(7)
        for j in range(7)
    ]
    assert max_pairwise_w1(hists, LEVELS) == pytest.approx(max(pairwise), rel=1e-9)
    to_first = [pot.wasserstein_1d(LEVELS, LEVELS, h, hists[0], p=1) for h in hists]
    np.testing.assert_allclose(w1_to_all(hists, hists[0], LEVELS), to_first, rtol=1e-9)


def test_monotone_kernel_pushes_source_onto_target_and_is_optimal():
    rng = np.random.default_rng(5)
    src, tgt = _random_hists(rng, 2)
    kernel = monotone_kernel(src, tgt, LEVELS)
    np.testing.assert_allclose(kernel.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(src @ kernel, tgt, atol=1e-12)
    plan = src[:, None] * kernel
    cost = np.abs(LEVELS[:, None] - LEVELS[None, :])
    assert (plan * cost).sum() == pytest.approx(pot.emd2(src, tgt, cost), abs=1e-12)


def test_linear_binning_keeps_the_mean_of_atoms_between_points():
    out = linear_binning(np.array([0.1, 0.9]), np.array([0.5, 0.5]), LEVELS)
    assert out @ LEVELS == pytest.approx(0.5)
    np.testing.assert_allclose(out, [0.3, 0.2, 0, 0.2, 0.3])  # 0.1 is 40% of the way to 0.25


@pytest.mark.parametrize(
    ("hists", "support"),
    [
        ([[0.5, 0.5, 0, 0]], LEVELS),  # wrong length
        ([[0.5, -0.1, 0.6, 0, 0]], LEVELS),  # negative mass
        ([[0, 0, 0, 0, 0]], LEVELS),  # no mass
        ([[0.2] * 5], [0, 0.5, 0.25, 0.75, 1]),  # unordered support
    ],
)
def test_bad_histograms_raise_typed_errors(hists, support):
    with pytest.raises(HistogramError):
        barycenter_1d(hists, support)


def test_segments_refine_at_every_distinct_level_ties_and_clipping_included():
    from otswarm.coordination.quantile import _segments

    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(2, 12))
        h = rng.dirichlet(np.ones(n), size=int(rng.integers(1, 5)))
        h[:, rng.random(n) < 0.3] = 0.0  # empty bins: repeated CDF levels
        cdfs = np.cumsum(h, axis=1)
        cdfs[0, -1] = 1.0 + 1e-12  # rounding above 1 is clipped
        levels = np.unique(np.concatenate(([0.0, 1.0], np.clip(cdfs.ravel(), 0.0, 1.0))))
        masses, mids = _segments(cdfs)
        assert np.array_equal(masses, np.diff(levels))
        assert np.array_equal(mids, 0.5 * (levels[:-1] + levels[1:]))
        assert np.all(masses > 0)
