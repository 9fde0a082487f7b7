"""``emd``: the Numba network simplex against POT's ``ot.emd2`` on many inputs,
its optimality certificate, the HiGHS fallback, and an agent's clustering
without ``scipy.optimize``."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import ot
import pytest

from otswarm.ot import OTInputError, _simplex, emd

pytestmark = pytest.mark.usefixtures("ot_warm")


def _weights(rng, size, kind):
    if kind == "uniform":
        w = np.ones(size)
    elif kind == "zeros":  # random, about a quarter of them exactly zero
        w = rng.random(size) * (rng.random(size) > 0.25)
        w[rng.integers(size)] = 1.0
    else:
        w = rng.random(size) + 0.01
    return w / w.sum()


def _cost(rng, n, m, kind):
    if kind == "cloud":
        x, y = rng.random((n, 3)), rng.random((m, 3))
        return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1) * 10.0 ** rng.uniform(-4, 4)
    if kind == "integer":  # few distinct values: ties everywhere
        return rng.integers(0, 4, size=(n, m)).astype(float)
    if kind == "line":  # |x_i - y_j| on a grid: many optimal plans
        return np.abs(np.arange(n)[:, None] / n - np.arange(m)[None, :] / m)
    return rng.normal(size=(n, m))  # signed costs


SHAPES = [(1, 1), (1, 7), (9, 1), (5, 5), (16, 16), (13, 40), (64, 23), (64, 64), (100, 90),
          (256, 256)]  # fmt: skip
CASES = [
    (n, m, wk, ck, seed)
    for seed, (n, m) in enumerate(SHAPES)
    for wk in ("uniform", "random", "zeros")
    for ck in ("cloud", "integer", "line", "normal")
]


def _check_against_pot(a, b, M, got):
    want = float(ot.emd2(a.astype(np.float64), b.astype(np.float64), M.astype(np.float64)))
    scale = np.abs(M).max() * a.sum()  # a cost of 0 is compared on the scale of M
    assert abs(got.cost - want) <= 1e-12 * max(abs(want), 1e-3 * scale)
    plan = np.asarray(got.plan, dtype=np.float64)
    assert plan.min() >= 0.0
    np.testing.assert_allclose(plan.sum(1), a, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(plan.sum(0), b, rtol=1e-12, atol=1e-15)
    assert got.converged and got.method == "emd" and got.reg == 0.0
    # the duals certify optimality: feasible, and tight where the plan moves mass
    slack = M - got.f[:, None] - got.g[None, :]
    assert slack.min() >= -1e-12 * max(1.0, np.abs(M).max())
    assert np.sum(plan * slack) <= 1e-12 * max(abs(want), 1e-3 * scale)


@pytest.mark.parametrize("n, m, weights, costs, seed", CASES)
def test_emd_cost_is_pot_s_and_marginals_exact(n, m, weights, costs, seed):
    rng = np.random.default_rng([n, m, seed, len(weights), len(costs)])
    a, b, M = _weights(rng, n, weights), _weights(rng, m, weights), _cost(rng, n, m, costs)
    _check_against_pot(a, b, M, emd(a, b, M))


@pytest.mark.parametrize("seed", range(4))
def test_emd_float32_inputs(seed):
    rng = np.random.default_rng(seed)
    n, m = 30 + seed, 41
    a = _weights(rng, n, "random").astype(np.float32)
    b = _weights(rng, m, "random").astype(np.float32)
    M = _cost(rng, n, m, "cloud").astype(np.float32)
    got = emd(a, b, M)
    assert got.plan.dtype == np.float32 and got.f.dtype == np.float32
    # float64 work on the float32 values, as POT: the same optimum
    want = float(ot.emd2(a.astype(np.float64), b.astype(np.float64), M.astype(np.float64)))
    assert got.cost == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(got.plan.sum(1), a, rtol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_emd_is_exact_where_pot_s_absolute_threshold_stops_early(seed):
    """Costs over 20 orders of magnitude (``u^8``): POT stops while reduced costs
    of ~1e-14 (absolute) remain, up to 1e-3 above the optimum; the simplex
    prices relative to each cell's magnitudes, so its duals certify its plan."""
    rng = np.random.default_rng(seed)
    n, m = 60 + seed, 75
    a, b, M = _weights(rng, n, "uniform"), _weights(rng, m, "random"), rng.random((n, m)) ** 8
    got = emd(a, b, M)
    assert got.cost <= float(ot.emd2(a, b, M)) * (1 + 1e-12)
    slack = M - got.f[:, None] - got.g[None, :]
    assert slack.min() >= -1e-12 * got.cost
    assert np.sum(got.plan * slack) <= 1e-12 * got.cost  # a dual bound equal to the cost
    np.testing.assert_allclose(got.plan.sum(0), b, rtol=1e-12)


def _boundary_cells(rng, count):
    """Cells ``(c, f_i, g_j)`` over 16 decades with reduced costs within a
    few ``EPS_REDUCED`` of the pricing margin, ``f_i`` tiny on a quarter of
    them and ``g_j`` on another (where the margin is least, about ``2 EPS
    |f_i|`` or ``EPS |f_i|``), and scores ``best`` to beat: 0 (a block's
    start) or another cell's score."""
    big = 10.0 ** rng.uniform(-8, 8, (3, count)) * rng.choice([-1.0, 1.0], (3, count))
    c, fi, gj = big
    fi[rng.random(count) < 0.25] *= 1e-12
    gj[rng.random(count) < 0.25] *= 1e-12
    size = np.abs(c) + np.abs(fi) + np.abs(gj)
    c = fi + gj - rng.uniform(0.0, 3.0 * _simplex.EPS_REDUCED, count) * size
    best = np.where(rng.random(count) < 0.5, 0.0, -rng.uniform(0, 2e-14, count) * size)
    return c, fi, gj, best


def test_the_pricing_prefilter_never_drops_a_cell_that_scores_below_best():
    """The block search scores a chunk of a row cell by cell only when
    ``_any_below`` finds an ``M_ij - g_j`` under ``_bound(f_i, best)``: that
    must hold for every cell whose own score is below ``best``, at the
    rounding edge too, or the simplex would enter other cells (or stop) than
    the exact scores say."""
    rng = np.random.default_rng(11)
    c, fi, gj, best = _boundary_cells(rng, 200_000)
    scores = np.array([_simplex._score(*cell) for cell in zip(c, fi, gj, strict=True)])
    below = scores < best
    assert 0.2 < below.mean() < 0.8  # both sides of the margin are drawn
    row, g = c[below][None, :], gj[below]
    passed = [_simplex._any_below(row, 0, g, k, k + 1, _simplex._bound(f, top))
              for k, (f, top) in enumerate(zip(fi[below], best[below], strict=True))]  # fmt: skip
    assert all(passed)


def _block_search_cell_by_cell(M, f, g, block, start):
    """The block search of ``_simplex._entering`` scoring every cell: ``(i, j,
    next start)`` of the first lowest score below 0 in the first block that
    has one."""
    n, m = M.shape
    eps = _simplex.EPS_REDUCED
    scores = (M - f[:, None] - g[None, :] + eps * (np.abs(M) + np.abs(f)[:, None]
              + np.abs(g)[None, :])).ravel()  # fmt: skip
    best, cell, k = 0.0, (-1, -1), start
    for scanned in range(1, n * m + 1):
        if scores[k] < best:
            best, cell = scores[k], divmod(k, m)
        k = (k + 1) % (n * m)
        if scanned % block == 0 and cell[0] >= 0:
            break
    return (*cell, k)


@pytest.mark.parametrize("costs", ["cloud", "integer"])
@pytest.mark.parametrize("n, m", [(7, 5), (40, 70), (64, 45), (33, 100)])
def test_the_chunked_block_search_enters_the_cell_scoring_every_cell_would(n, m, costs):
    """Potentials near a tree's (a few cells a little negative) and, with
    integer costs and potentials, exact ties: the chunk tests must not change
    which cell enters nor where the next search starts (which does not matter
    when no cell enters)."""
    rng = np.random.default_rng([n, m, len(costs)])
    M = _cost(rng, n, m, costs)
    if costs == "integer":
        f, g = rng.integers(0, 3, n).astype(float), rng.integers(-1, 2, m).astype(float)
    else:
        got = emd(_weights(rng, n, "random"), _weights(rng, m, "random"), M)
        f, g = got.f.copy(), got.g.copy()
        f[rng.random(n) < 0.1] += 1e-3 * np.abs(M).max() * rng.random()
    for block in (10, m // 3 + 1, m, 3 * m + 7):
        for start in rng.integers(0, n * m, 8):
            want = _block_search_cell_by_cell(M, f, g, block, start)
            got = _simplex._entering(M, f, g, block, start)
            assert got == want if want[0] >= 0 else got[:2] == want[:2]  # none: optimal


def test_emd_assignment_is_a_permutation():
    rng = np.random.default_rng(7)
    n = 40
    M = rng.random((n, n))
    got = emd(None, None, M)
    plan = got.plan * n
    assert np.allclose(np.sort(plan, axis=1)[:, -1], 1.0) and np.allclose(plan.sum(0), 1.0)
    from scipy.optimize import linear_sum_assignment

    r, c = linear_sum_assignment(M)
    assert got.cost == pytest.approx(M[r, c].sum() / n, rel=1e-12)


def test_emd_pivots_when_the_greedy_start_is_not_optimal():
    # the row-by-row greedy sends row 0 to column 0; the optimum does not
    M = np.array([[0.0, 1.0], [0.1, 10.0]])
    got = emd([0.5, 0.5], [0.5, 0.5], M)
    assert got.n_iter >= 1
    np.testing.assert_allclose(got.plan, [[0.0, 0.5], [0.5, 0.0]])
    assert got.cost == pytest.approx(0.55, rel=1e-15)


def test_emd_falls_back_to_highs_at_the_pivot_limit(caplog):
    rng = np.random.default_rng(3)
    a, b = _weights(rng, 20, "random"), _weights(rng, 25, "random")
    M = _cost(rng, 20, 25, "cloud")
    with caplog.at_level(logging.WARNING, logger="otswarm.ot.emd"):
        got = emd(a, b, M, max_iter=0)
    assert got.method == "emd-highs" and got.converged and got.n_iter == 0
    assert "HiGHS" in caplog.text and "max_iter" in caplog.text
    assert got.cost == pytest.approx(float(ot.emd2(a, b, M)), rel=1e-9)
    assert emd(a, b, M).method == "emd"


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_emd_rejects_a_bad_pivot_limit(bad):
    with pytest.raises(OTInputError, match="max_iter"):
        emd(None, None, np.ones((3, 3)), max_iter=bad)


CLUSTERING = """
import json, sys
import numpy as np
from otswarm.coordination.clustering import cluster
rng = np.random.default_rng(0)
ids = [f"a{i:03d}" for i in range(60)]
c = cluster(ids, rng.random((60, 2)) * 50.0, capacity=8)
print(json.dumps({"sizes": c.sizes.tolist(),
                  "scipy_optimize": "scipy.optimize" in sys.modules,
                  "emd": "otswarm.ot.emd" in sys.modules}))
"""


def test_an_agent_s_clustering_never_imports_scipy_optimize():
    out = subprocess.run(
        [sys.executable, "-c", CLUSTERING], capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["emd"] and sum(got["sizes"]) == 60 and max(got["sizes"]) <= 8
    assert got["scipy_optimize"] is False


def _random_tree(rng, N):
    """Parents of a random tree rooted at 0, its child lists and preorder."""
    parent = np.full(N, -1, dtype=np.int64)
    child = np.full(N, -1, dtype=np.int64)
    sib_next = np.full(N, -1, dtype=np.int64)
    labels = rng.permutation(N - 1) + 1
    for k, x in enumerate(labels):
        p = 0 if k == 0 or rng.random() < 0.1 else labels[rng.integers(k)]
        parent[x] = p
        _simplex._link(child, sib_next, p, x)
    thread, rev, size, last = (np.empty(N, dtype=np.int64) for _ in range(4))
    _simplex._thread_tree(parent, child, sib_next, thread, rev, size, last, np.empty(N, np.int64))
    return parent, thread, rev, size, last


def _assert_preorder(parent, thread, rev, size, last):
    """``thread`` runs through every subtree in one piece of ``size`` nodes
    from its root to ``last``; ``rev`` undoes it."""
    N = parent.shape[0]
    np.testing.assert_array_equal(rev[thread], np.arange(N))
    ancestors_of = [_ancestors(parent, z) for z in range(N)]
    for x in range(N):
        below, y = {x}, x
        for _ in range(size[x] - 1):
            y = thread[y]
            below.add(y)
        assert y == last[x]
        assert below == {z for z in range(N) if x in ancestors_of[z]}


def _ancestors(parent, z):
    up = {z}
    while parent[z] >= 0:
        z = parent[z]
        up.add(z)
    return up


@pytest.mark.parametrize("seed", range(12))
def test_the_thread_stays_a_preorder_when_a_subtree_is_rerooted_and_moved(seed):
    """``_rethread``, ``_resize`` and ``_reroot`` hang the subtree of ``out``
    under ``t`` by its node ``s``: the thread, sizes and last nodes must be
    those of the new tree, whatever the shapes (``s = out``, ``t`` the apex,
    the subtree first or last among its siblings)."""
    rng = np.random.default_rng(seed)
    N = int(rng.integers(3, 30))
    parent, thread, rev, size, last = _random_tree(rng, N)
    for _ in range(20):
        out = int(rng.integers(1, N))
        inside = [z for z in range(N) if out in _ancestors(parent, z)]
        outside = [z for z in range(N) if z not in inside]
        s, t = int(rng.choice(inside)), int(rng.choice(outside))
        apex = _simplex._apex(s, t, parent, size)
        path = np.empty((3, N), dtype=np.int64)
        K, end = _simplex._rethread(s, t, out, parent, thread, rev, last, path)
        _simplex._resize(t, apex, K, end, path, parent, size, last)
        flow, cost = np.zeros(N), np.zeros(N)
        _simplex._reroot(s, t, out, 0.0, 0.0, parent, flow, cost)
        assert parent[s] == t
        _assert_preorder(parent, thread, rev, size, last)
