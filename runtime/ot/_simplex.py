"""Network simplex for the transportation problem (the exact solver of ``emd``).

The problem ``min_P <P, M>`` s.t. ``P 1 = a``, ``P^T 1 = b``, ``P >= 0`` is a
min-cost flow on the bipartite graph with one node per row ``i`` (supply
``a_i > 0``), one per column ``j`` (demand ``b_j > 0``) and an uncapacitated
arc ``i -> j`` of cost ``M_ij`` per cell. A basis is a spanning tree of the
``n + m`` nodes (``n + m - 1`` cells); cells off the tree carry no flow, so
the flow lives on the tree, one value per node: ``flow[x]`` is the flow of
the cell between ``x`` and its parent. The dual potentials ``f_i`` (rows) and
``g_j`` (columns) satisfy ``f_i + g_j = M_ij`` on the tree; a cell with
reduced cost ``r_ij = M_ij - f_i - g_j < 0`` enters, pushing ``theta`` around
the cycle it closes in the tree: ``+theta`` on the cells traversed row to
column, ``-theta`` on those traversed column to row, ``theta`` the smallest
flow of the latter. The plan is optimal when no cell has ``r_ij < 0`` (then
``f, g`` are optimal duals: ``f_i + g_j <= M_ij``, equality on the support).

- Start: a greedy basis (each row in turn fills its cheapest open columns;
  each allocation closes a row or a column, a tie closes both), its forest
  joined by zero-flow cells into a tree rooted at row 0.
- Pricing: block search (Grigoriadis 1986, as in LEMON): scan blocks of
  ``~sqrt(n m)`` cells from where the last scan stopped and take the most
  negative reduced cost of the first block that has one. A cell can beat the
  best score so far only if ``M_ij - g_j`` is below a bound of ``f_i`` and
  that score (:func:`_bound`), so a row segment of the block, then each
  ``CHUNK`` cells of it, is first tested for such a cell by a vectorised
  comparison, and only the chunks that have one are scored cell by cell:
  the same entering cell as scoring every cell, at a fraction of the work.
- Degeneracy: the tree is kept *strongly feasible* (Cunningham 1976;
  Ahuja, Magnanti & Orlin 1993, ch. 11.5): every zero-flow cell points toward
  the root, which holds for the start (the joining cells hang a row under a
  column) and is kept by taking as leaving cell the *last* blocking cell met
  when the cycle is walked from its apex along the entering cell. No basis
  repeats, so the method ends in exact arithmetic; ``max_iter`` bounds the
  pivots in floating point.
- Tree: parent, the flow and cost of the cell above each node, and its
  preorder as a thread (next and previous node, the size of each subtree
  and its last node: the subtree of ``x`` is ``size[x]`` nodes of the thread
  from ``x``; as in LEMON). The apex of the cycle is found by letting the
  node with the smaller subtree climb (an ancestor's subtree is larger). A
  pivot cuts the subtree ``S`` below the leaving cell, re-roots it at the
  entering cell's end ``s`` and threads it right after the other end ``t``:
  rooted at ``s``, ``S`` is ``s``'s old subtree, then for each next node of
  the path ``s -> out`` its old subtree without the one below it (two runs
  of the old thread each); sizes change on the path and from both ends of
  the cycle up to the apex. The potentials of ``S`` are then recomputed from
  their parents along the thread (``pi_x = M_{x,parent} - pi_parent``, no
  drift). Once optimal, the flows are recomputed from the tree (each cell
  carries the net supply of the subtree below it, summed in reverse
  preorder), so the plan's marginals are ``a`` and ``b`` to rounding.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

OPTIMAL, ITERATION_LIMIT = 0, 1
EPS_REDUCED = 1e-14  # a cell enters when r_ij < -EPS_REDUCED (|M_ij| + |f_i| + |g_j|)
TIE_RTOL = 1e-14  # an allocation closes both lines when their rests agree to this
WIDTH = 4  # cheapest cells per row the greedy start ranks
CHUNK = 32  # cells of a row segment the pricing tests together before scoring them


@njit(cache=True)
def _cell_cost(M, n, x, p):
    """Cost of the tree cell between node ``x`` and its parent ``p``."""
    return M[x, p - n] if x < n else M[p, x - n]


@njit(cache=True)
def _link(child, sib_next, p, x):
    """Make ``x`` the first child of ``p`` (singly linked child lists)."""
    sib_next[x] = child[p]
    child[p] = x


@njit(cache=True)
def _allocate(i, j, rest_a, rest_b, open_row, open_col):
    """Send ``min(rest_a[i], rest_b[j])`` on cell ``(i, j)``; close the line it
    empties (both on a tie). Returns the amount."""
    left, want = rest_a[i], rest_b[j]
    if abs(left - want) <= TIE_RTOL * max(left, want):
        sent = want
        open_row[i], open_col[j] = False, False
    elif left < want:
        sent = left
        open_row[i] = False
    else:
        sent = want
        open_col[j] = False
    rest_a[i], rest_b[j] = left - sent, want - sent
    return sent


@njit(cache=True)
def _cheapest(M, i, open_col):
    best, jbest = np.inf, -1
    for j in range(M.shape[1]):
        if open_col[j] and M[i, j] < best:
            best, jbest = M[i, j], j
    return jbest


@njit(cache=True)
def _greedy_cells(a, b, M, width):
    """Cells ``(rows, cols, flows, count)`` of the greedy start: the ``width``
    cheapest cells of every row, cheapest first, then each row still open
    sends its rest to its cheapest open columns. Each allocation closes a row
    or a column (both on a tie), so the cells form a forest."""
    n, m = M.shape
    width = min(width, m)
    rest_a, rest_b = a.copy(), b.copy()
    open_row = np.ones(n, dtype=np.bool_)
    open_col = np.ones(m, dtype=np.bool_)
    rows = np.empty(n + m, dtype=np.int64)
    cols = np.empty(n + m, dtype=np.int64)
    flows = np.empty(n + m, dtype=np.float64)
    # the width cheapest columns of each row (insertion into a sorted list)
    cand_cost = np.empty(n * width, dtype=np.float64)
    cand_col = np.empty(n * width, dtype=np.int64)
    for i in range(n):
        base, size = i * width, 0
        for j in range(m):
            c = M[i, j]
            if size == width and c >= cand_cost[base + size - 1]:
                continue
            k = size if size < width else width - 1
            while k > 0 and cand_cost[base + k - 1] > c:
                cand_cost[base + k] = cand_cost[base + k - 1]
                cand_col[base + k] = cand_col[base + k - 1]
                k -= 1
            cand_cost[base + k], cand_col[base + k] = c, j
            size = min(size + 1, width)
    count = 0
    for e in np.argsort(cand_cost, kind="mergesort"):
        i, j = e // width, cand_col[e]
        if open_row[i] and open_col[j]:
            rows[count], cols[count] = i, j
            flows[count] = _allocate(i, j, rest_a, rest_b, open_row, open_col)
            count += 1
    for i in range(n):
        while open_row[i]:
            j = _cheapest(M, i, open_col)
            if j < 0:  # rounding left a crumb of supply and no demand
                break
            rows[count], cols[count] = i, j
            flows[count] = _allocate(i, j, rest_a, rest_b, open_row, open_col)
            count += 1
    return rows, cols, flows, count


@njit(cache=True)
def _start_tree(a, b, M, parent, flow, cost, child, sib_next, stack):
    """Spanning tree of the greedy cells rooted at row 0, components joined by
    zero-flow cells that hang one of their rows under column 0's side."""
    n, m = M.shape
    N = n + m
    rows, cols, flows, count = _greedy_cells(a, b, M, WIDTH)
    # adjacency of the forest (CSR)
    degree = np.zeros(N + 1, dtype=np.int64)
    for k in range(count):
        degree[rows[k] + 1] += 1
        degree[n + cols[k] + 1] += 1
    for x in range(N):
        degree[x + 1] += degree[x]
    fill = degree[:N].copy()
    other = np.empty(2 * count, dtype=np.int64)
    amount = np.empty(2 * count, dtype=np.float64)
    for k in range(count):
        r, c = rows[k], n + cols[k]
        other[fill[r]], amount[fill[r]] = c, flows[k]
        fill[r] += 1
        other[fill[c]], amount[fill[c]] = r, flows[k]
        fill[c] += 1
    seen = np.zeros(N, dtype=np.bool_)
    child[:] = -1
    anchor = -1  # a column of the joined part, for the zero-flow joins
    for start in range(n):
        if seen[start]:
            continue
        if start == 0:
            parent[0], flow[0] = -1, 0.0
        else:  # a new component: its row hangs under a joined column, flow 0
            parent[start], flow[start] = anchor, 0.0
            cost[start] = M[start, anchor - n]
            _link(child, sib_next, anchor, start)
        seen[start] = True
        top = 0
        stack[top] = start
        top += 1
        while top:
            top -= 1
            x = stack[top]
            if x >= n and anchor < 0:
                anchor = x
            for e in range(degree[x], degree[x + 1]):
                y = other[e]
                if not seen[y]:
                    seen[y] = True
                    parent[y], flow[y] = x, amount[e]
                    cost[y] = _cell_cost(M, n, y, x)
                    _link(child, sib_next, x, y)
                    stack[top] = y
                    top += 1
    for c in range(n, N):  # a column left with rounding crumbs of demand only
        if not seen[c]:
            parent[c], flow[c], cost[c] = 0, 0.0, M[0, c - n]
            _link(child, sib_next, 0, c)
            seen[c] = True


@njit(cache=True)
def _thread_tree(parent, child, sib_next, thread, rev, size, last, stack):
    """Preorder of the tree from its child lists: ``thread[x]`` the node after
    ``x`` (after the last node, the root 0), ``rev[x]`` the node before,
    ``size[x]`` the nodes of the subtree of ``x`` and ``last[x]`` the last of
    them (the subtree is ``x, thread[x], ...`` up to ``last[x]``)."""
    N = thread.shape[0]
    order = np.empty(N, dtype=np.int64)
    top, count = 1, 0
    stack[0] = 0
    while top:
        top -= 1
        x = stack[top]
        order[count] = x
        count += 1
        c = child[x]
        while c >= 0:
            stack[top] = c
            top += 1
            c = sib_next[c]
    for k in range(N):
        x, y = order[k], order[(k + 1) % N]
        thread[x], rev[y] = y, x
        size[x], last[x] = 1, x
    for k in range(N - 1, 0, -1):  # children before parents
        x = order[k]
        p = parent[x]
        if size[p] == 1:  # the last child in preorder is the first one met here
            last[p] = last[x]
        size[p] += size[x]


@njit(cache=True)
def _potentials(s, parent, cost, pi, thread, size):
    """Potentials of the subtree of ``s`` from its parent's, in preorder
    (``pi_x = cost[x] - pi_parent``, ``cost[x]``: the cost of the cell above
    ``x``; the root's is 0)."""
    x = s
    for _ in range(size[s]):
        p = parent[x]
        pi[x] = cost[x] - pi[p] if p >= 0 else 0.0
        x = thread[x]


@njit(cache=True)
def _apex(u, v, parent, size):
    """The nearest common ancestor of ``u`` and ``v``: a node whose subtree
    is smaller than another's is not its ancestor, so it climbs."""
    while u != v:
        if size[u] < size[v]:
            u = parent[u]
        else:
            v = parent[v]
    return u


@njit(cache=True, inline="always")
def _link_thread(x, y, thread, rev):
    thread[x], rev[y] = y, x


@njit(cache=True)
def _rethread(s, t, out, parent, thread, rev, last, path):
    """Thread the subtree ``S`` of ``out`` as rooted at ``s`` and hung under
    ``t`` (on the old parents, before :func:`_reroot`). ``S`` leaves the
    thread; rooted at ``s`` it is the old subtree of ``s``, then for each
    next node ``x_k`` of the path ``s = x_0, ..., x_K = out`` the old subtree
    of ``x_k`` without that of ``x_{k-1}`` (the old thread from ``x_k`` to the
    node before ``x_{k-1}``, then from the node after the subtree of
    ``x_{k-1}`` to the last of ``x_k``'s, if any); it goes in right after
    ``t``. ``path[:, k]``: ``x_k`` and its old ``rev`` and node after its
    subtree. Returns ``K`` and the new last node of ``S``."""
    K, x = 0, s
    while True:
        path[0, K], path[1, K], path[2, K] = x, rev[x], thread[last[x]]
        if x == out:
            break
        x = parent[x]
        K += 1
    _link_thread(path[1, K], path[2, K], thread, rev)
    tail = last[s]
    for k in range(1, K + 1):
        x = path[0, k]
        _link_thread(tail, x, thread, rev)
        tail = path[1, k - 1]
        if last[path[0, k - 1]] != last[x]:
            _link_thread(tail, path[2, k - 1], thread, rev)
            tail = last[x]
    _link_thread(tail, thread[t], thread, rev)
    _link_thread(t, s, thread, rev)
    return K, tail


@njit(cache=True)
def _resize(t, apex, K, end, path, parent, size, last):
    """Sizes and last nodes after :func:`_rethread` (old parents and sizes):
    ``x_k`` of the path now has all of ``S`` but the old subtree of
    ``x_{k-1}`` below it, and ``end`` last; the ancestors of ``out`` below
    the apex lose ``|S|`` nodes, those of ``t`` gain them; a subtree that
    ended with ``S`` now ends at the node before it, one that ended at ``t``
    ends at ``end``."""
    out = path[0, K]
    count, v_out, old_end, old_before = size[out], parent[out], last[out], path[1, K]
    for k in range(K, 0, -1):
        x = path[0, k]
        size[x], last[x] = count - size[path[0, k - 1]], end
    size[path[0, 0]], last[path[0, 0]] = count, end
    y = v_out
    while y != apex:
        size[y] -= count
        y = parent[y]
    y = t
    while y != apex:
        size[y] += count
        y = parent[y]
    y = v_out
    while y >= 0 and last[y] == old_end:
        last[y] = old_before
        y = parent[y]
    y = t
    while y >= 0 and last[y] == t:
        last[y] = end
        y = parent[y]


@njit(cache=True)
def _reroot(s, t, out, entering_cost, theta, parent, flow, cost):
    """Hang the subtree of ``out`` from ``t`` by the entering cell at its node
    ``s``: the path ``s -> out`` reverses, each cell's flow and cost moving
    to the node below it on the path."""
    prev, carried, carried_cost, x = t, theta, entering_cost, s
    while True:
        up, up_flow, up_cost = parent[x], flow[x], cost[x]
        parent[x], flow[x], cost[x] = prev, carried, carried_cost
        if x == out:
            return
        prev, carried, carried_cost, x = x, up_flow, up_cost, up


@njit(cache=True)
def _tree_flows(a, b, n, parent, flow, rev):
    """Flows from the tree alone: the cell above ``x`` carries the net supply of
    the subtree of ``x`` (rows supply ``a``, columns take ``b``), summed in
    reverse preorder (children before parents)."""
    N = parent.shape[0]
    net = np.empty(N, dtype=np.float64)
    net[:n] = a
    net[n:] = -b
    x = rev[0]
    while x != 0:
        up = net[x] if x < n else -net[x]
        flow[x] = max(up, 0.0)
        net[parent[x]] += net[x]
        x = rev[x]


@njit(cache=True, inline="always")
def _score(c, fi, gj):
    """Reduced cost ``c - f_i - g_j`` plus its rounding margin: below 0 only when
    the reduced cost is negative beyond ``EPS_REDUCED`` of the magnitudes."""
    return c - fi - gj + EPS_REDUCED * (abs(c) + abs(fi) + abs(gj))


@njit(cache=True, inline="always")
def _bound(fi, best):
    """A cell of row ``i`` can score below ``best <= 0`` (:func:`_score`) only
    if ``M_ij - g_j < _bound(f_i, best)`` (a necessary test, cheaper than the
    score: one subtraction, no magnitudes).

    Such a cell has ``r = c - f_i - g_j < best - EPS s`` with ``s = |c| +
    |f_i| + |g_j|`` (up to the rounding of :func:`_score`, a few ``1e-16
    s``), so ``c - g_j = f_i + r < f_i + best - EPS |f_i|``, as ``s >=
    |f_i|``. The bound asks only for ``EPS / 2 |f_i|`` of it; the rest of
    ``EPS s``, at least ``EPS / 2 s``, covers the rounding of ``c - g_j``
    and of the bound, ``5e-16 s`` at most (``s`` is also at least ``|c -
    g_j|`` and ``|best|``, or no cell of these magnitudes could score below
    ``best``). So it never drops a cell that scores below ``best``, and the
    ``|f_i|`` term keeps the rounding of a zero reduced cost (a tree cell's)
    from passing it."""
    return fi + best - 0.5 * EPS_REDUCED * abs(fi)


@njit(cache=True, fastmath={"nnan", "ninf", "nsz"})
def _any_below(M, i, g, j0, j1, bound):
    """Whether ``M_ij - g_j < bound`` for some ``j0 <= j < j1`` (an OR of
    comparisons over slices, which vectorises; ``M`` and ``g`` are finite)."""
    row, gs = M[i, j0:j1], g[j0:j1]
    hit = False
    for k in range(row.shape[0]):
        hit |= row[k] - gs[k] < bound
    return hit


@njit(cache=True)
def _entering(M, f, g, block, start):
    """Block search from flat cell ``start``: ``(i, j, next start)`` of the
    lowest negative :func:`_score` (the first such cell on a tie) in the
    first block that has one; ``i = -1`` when no cell has (the tree is
    optimal). A row segment of the block, and then each ``CHUNK`` of it, is
    looked into only when :func:`_any_below` finds a cell under
    :func:`_bound` of the best score so far; only the cells of such chunks
    are scored, so the result is that of scoring every cell."""
    n, m = M.shape
    total = n * m
    i, j = start // m, start % m
    best, bi, bj = 0.0, -1, -1
    in_block, scanned = 0, 0
    while scanned < total:
        end = min(m, j + block - in_block)
        fi = f[i]
        if _any_below(M, i, g, j, end, _bound(fi, best)):
            for c0 in range(j, end, CHUNK):
                c1 = min(c0 + CHUNK, end)
                if _any_below(M, i, g, c0, c1, _bound(fi, best)):
                    for jj in range(c0, c1):
                        r = _score(M[i, jj], fi, g[jj])
                        if r < best:
                            best, bi, bj = r, i, jj
        in_block += end - j
        scanned += end - j
        j = end
        if j == m:
            j = 0
            i = i + 1 if i + 1 < n else 0
        if in_block >= block:
            if bi >= 0:
                break
            in_block = 0
    return bi, bj, i * m + j


@njit(cache=True)
def center(f, g, a, b):
    """Shift ``f += c``, ``g -= c`` so that ``<a, f> = <b, g>`` (POT's
    ``center_dual``; ``f_i + g_j`` is unchanged)."""
    gap, mass = 0.0, 0.0
    for j in range(g.shape[0]):
        gap += g[j] * b[j]
        mass += b[j]
    for i in range(f.shape[0]):
        gap -= f[i] * a[i]
        mass += a[i]
    c = gap / mass
    f += c
    g -= c


@njit(cache=True)
def marginal_error(plan, a, b):
    """``|P 1 - a|_1 + |P^T 1 - b|_1``."""
    n, m = plan.shape
    col = np.zeros(m)
    err = 0.0
    for i in range(n):
        row = 0.0
        for j in range(m):
            row += plan[i, j]
            col[j] += plan[i, j]
        err += abs(row - a[i])
    for j in range(m):
        err += abs(col[j] - b[j])
    return err


@njit(cache=True)
def network_simplex(a, b, M, max_iter):
    """``(plan, cost, f, g, pivots, status)`` of the transportation problem;
    ``a, b`` positive with equal sums, ``M`` finite, all float64 (see module
    doc); ``cost = <plan, M>``, ``f, g`` centred (:func:`center`). ``status``
    is :data:`OPTIMAL` or :data:`ITERATION_LIMIT` (``plan`` then the last
    feasible basis)."""
    n, m = M.shape
    N = n + m
    parent = np.empty(N, dtype=np.int64)
    child = np.empty(N, dtype=np.int64)
    sib_next = np.empty(N, dtype=np.int64)
    stack = np.empty(N, dtype=np.int64)
    thread = np.empty(N, dtype=np.int64)
    rev = np.empty(N, dtype=np.int64)
    size = np.empty(N, dtype=np.int64)
    last = np.empty(N, dtype=np.int64)
    path = np.empty((3, N), dtype=np.int64)
    flow = np.empty(N, dtype=np.float64)
    cost = np.empty(N, dtype=np.float64)
    pi = np.empty(N, dtype=np.float64)
    _start_tree(a, b, M, parent, flow, cost, child, sib_next, stack)
    _thread_tree(parent, child, sib_next, thread, rev, size, last, stack)
    _potentials(0, parent, cost, pi, thread, size)
    block = max(10, int(math.sqrt(n * m)))
    f, g = pi[:n], pi[n:]
    start, pivots, status = 0, 0, OPTIMAL
    while True:
        i, j, start = _entering(M, f, g, block, start)
        if i < 0:
            break
        if pivots >= max_iter:
            status = ITERATION_LIMIT
            break
        pivots += 1
        col = n + j
        apex = _apex(i, col, parent, size)
        # leaving cell: the last blocking one from the apex along i -> j
        theta, out, side = np.inf, -1, 0
        x = i
        while x != apex:
            if x < n and flow[x] < theta:
                theta, out, side = flow[x], x, 1
            x = parent[x]
        x = col
        while x != apex:
            if x >= n and flow[x] <= theta:
                theta, out, side = flow[x], x, 2
            x = parent[x]
        if theta > 0.0:
            x = i
            while x != apex:
                flow[x] += -theta if x < n else theta
                x = parent[x]
            x = col
            while x != apex:
                flow[x] += theta if x < n else -theta
                x = parent[x]
        # the cut subtree, re-rooted at the entering cell's end s, under t
        s, t = (i, col) if side == 1 else (col, i)
        K, end = _rethread(s, t, out, parent, thread, rev, last, path)
        _resize(t, apex, K, end, path, parent, size, last)
        _reroot(s, t, out, M[i, j], theta, parent, flow, cost)
        _potentials(s, parent, cost, pi, thread, size)
    _tree_flows(a, b, n, parent, flow, rev)
    plan = np.zeros((n, m), dtype=np.float64)
    total = 0.0
    for x in range(1, N):
        p = parent[x]
        if x < n:
            plan[x, p - n] = flow[x]
        else:
            plan[p, x - n] = flow[x]
        total += flow[x] * cost[x]
    f, g = pi[:n].copy(), pi[n:].copy()
    center(f, g, a, b)
    return plan, total, f, g, pivots, status
