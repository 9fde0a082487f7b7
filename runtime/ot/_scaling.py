"""Compiled core of the entropic solvers: stabilised Sinkhorn scaling.

The plan is kept in factored form ``P_ij = u_i K_ij v_j`` with the
*stabilised kernel* ``K_ij = exp((alpha_i + beta_j - M_ij) / eps)`` (Schmitzer,
"Stabilized sparse scaling algorithms for entropy regularized transport
problems", SIAM J. Sci. Comput. 2019). The dual potentials are
``f = alpha + eps log u`` and ``g = beta + eps log v`` (units of ``M``).

One Sinkhorn iteration is one sweep over the rows of ``K``: for row ``i`` the
dot product ``s_i = K_i. v`` gives ``u_i``, and the same row, still in L1
cache, is accumulated into ``t = K^T u`` (an axpy). The matrix is read once per
iteration instead of twice (two BLAS ``gemv``), and ``t`` yields the column
update ``v = b / t`` and the marginal violation ``|v_old * t - b|_2`` for free.

Generalised (unbalanced, Chizat et al. 2018) updates use the exponents
``phi = rho / (rho + eps)``: ``u_i = (a_i / s_i)^phi exp(-(1 - phi) alpha_i / eps)``
(``phi = 1`` is the balanced case). Stabilisation (``stabilize=True``):

* absorption: when some ``u_i`` or ``v_j`` leaves ``[1/tau, tau]`` the scalings
  are moved into the potentials and ``K`` is recomputed from them (so that an
  entry flushed to 0 comes back when its potentials have moved);
* epsilon scaling: stages at ``eps * 2^k, ..., 2 eps, eps``; going from ``2 eps``
  to ``eps`` absorbs the scalings and recomputes ``K`` at ``eps``;
* a row (column) whose sum underflows gets an exact log-sum-exp update of its
  potential and a recomputed kernel row (column).

The scalings are over-relaxed as in the kernel domain (:func:`relaxed`, with
the schedule of ``_kernel.next_omega``): ``u <- (1 - w) u + w scale(a, K v)``,
likewise ``v``. An absorption leaves the plan as it is (``u = v = 1`` on the
absorbed kernel), so the relaxation goes on across it.

Kernel entries below the dtype's smallest normal number are flushed to zero so
that no loop ever runs on subnormals.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from otswarm.ot._fastexp import fast_exp

# reassociation lets LLVM vectorise the reductions; inf/nan semantics stay exact
FAST = {"reassoc", "contract"}
HUGE = 1e300
TAU = 1e6  # absorption threshold on the scalings u, v
# largest reduced cost / eps of the first epsilon-scaling stage: with over-relaxed
# scalings one stage beats epsilon scaling up to a spread of about 500 eps (1.2-2x
# faster at 60-500 eps, fewer sweeps too; docs/ot.md); past it stages help again
FIRST_STAGE_RATIO = 512.0
STAGE_TOL = 1e-4  # intermediate stages stop at this marginal violation (unit mass)
KEEP = 0.5  # a relaxed scaling never drops below this fraction of the plain update

CONVERGED, MAX_ITER, FAILED = 0, 1, 2


@njit(cache=True, fastmath={"reassoc", "contract", "nnan", "nsz"}, _nrt=False)  # M is finite
def cold_potentials(M, alpha, beta):
    """Start potentials by two c-transforms, ``alpha_i = min_j M_ij`` and
    ``beta_j = min_i (M_ij - alpha_i)``, so every ``exp`` argument is ``<= 0``
    and each row and column holds a 1. Returns ``max_i (max_j M_ij - alpha_i)``,
    a bound on the largest reduced cost (sets how hard the problem is)."""
    n, m = M.shape
    spread = 0.0
    for j in range(m):
        beta[j] = np.inf
    for i in range(n):
        lo = M[i, 0]
        hi = M[i, 0]
        for j in range(m):
            lo = min(lo, M[i, j])
            hi = max(hi, M[i, j])
        alpha[i] = lo
        spread = max(spread, hi - lo)
        for j in range(m):
            beta[j] = min(beta[j], M[i, j] - lo)
    return spread


@njit(cache=True)
def stage_count(spread, eps):
    """Number of epsilon-scaling stages (halving eps each time) so that the first
    stage has ``spread / eps_0 <= FIRST_STAGE_RATIO``."""
    ratio = spread / eps
    if ratio <= FIRST_STAGE_RATIO:
        return 1
    return 1 + min(40, math.ceil(math.log2(ratio / FIRST_STAGE_RATIO)))


@njit(cache=True, fastmath=FAST, _nrt=False)
def build_kernel(M, alpha, beta, eps, K, tiny):
    """``K_ij = exp((alpha_i + beta_j - M_ij) / eps)``; first lowers ``alpha_i``
    where needed so that no entry exceeds 1 (a warm start cannot overflow)."""
    n, m = M.shape
    inv = 1.0 / eps
    for i in range(n):
        Mi, Ki = M[i], K[i]
        top = -np.inf
        for j in range(m):
            top = max(top, (beta[j] - Mi[j]) * inv)
        shift = alpha[i] * inv
        if shift + top > 0.0:
            alpha[i] = -top * eps
            shift = -top
        for j in range(m):
            Ki[j] = fast_exp((beta[j] - Mi[j]) * inv + shift, tiny)


@njit(cache=True, _nrt=False)
def _lse_potential(weight, phi, eps, M_line, dual, scaling):
    """Exact update ``phi (eps log w - eps LSE_k((dual_k + eps log scaling_k - M_k) / eps))``
    of one potential, over the entries with ``scaling_k > 0``."""
    top = -np.inf
    for k in range(M_line.shape[0]):
        if scaling[k] > 0.0:
            top = max(top, (dual[k] - M_line[k]) / eps + math.log(scaling[k]))
    acc = 0.0
    for k in range(M_line.shape[0]):
        if scaling[k] > 0.0:
            acc += math.exp((dual[k] - M_line[k]) / eps + math.log(scaling[k]) - top)
    return phi * eps * (math.log(weight) - top - math.log(acc))


@njit(cache=True, fastmath=FAST, inline="always")
def _scale(weight, total, phi, dual, eps):
    """Scaling update ``(w / total)^phi exp(-(1 - phi) dual / eps)``."""
    if phi == 1.0:
        return weight / total
    return (weight / total) ** phi * math.exp(-(1.0 - phi) * dual / eps)


@njit(cache=True, fastmath=FAST, inline="always")
def relaxed(omega, plain, old):
    """``(1 - omega) old + omega plain``, or ``plain`` where that would fall
    below ``KEEP * plain`` (the scalings stay positive)."""
    x = omega * plain + (1.0 - omega) * old
    return x if x >= KEEP * plain else plain


@njit(cache=True, inline="always")
def _usable(total, tiny):
    """A row or column sum that neither underflowed nor overflowed."""
    return (total > tiny) & (total < HUGE)


@njit(cache=True, fastmath=FAST, _nrt=False)
def _refresh_row(K, M, a, alpha, beta, v, i, eps, phi, tiny):
    """Exact log-domain update of ``alpha_i`` and a recomputed kernel row;
    returns the new row sum ``K_i. v`` (NaN when even that failed)."""
    alpha[i] = _lse_potential(a[i], phi, eps, M[i], beta, v)
    if not math.isfinite(alpha[i]):
        return np.nan
    s = 0.0
    for j in range(K.shape[1]):
        k = math.exp((alpha[i] + beta[j] - M[i, j]) / eps)
        K[i, j] = k if k >= tiny else 0.0
        s += K[i, j] * v[j]
    return s


@njit(cache=True, fastmath=FAST, _nrt=False)
def _refresh_col(K, M, b, alpha, beta, u, j, eps, phi, tiny):
    """Exact log-domain update of ``beta_j`` and a recomputed kernel column;
    returns the new column sum ``u . K_.j`` (NaN when even that failed)."""
    beta[j] = _lse_potential(b[j], phi, eps, M[:, j], alpha, u)
    if not math.isfinite(beta[j]):
        return np.nan
    s = 0.0
    for i in range(K.shape[0]):
        k = math.exp((alpha[i] + beta[j] - M[i, j]) / eps)
        K[i, j] = k if k >= tiny else 0.0
        s += u[i] * K[i, j]
    return s


@njit(cache=True, fastmath=FAST, _nrt=False)
def row_pass(K, M, a, alpha, beta, u, v, t, eps, phi, omega, stabilize, tiny):
    """``u = relaxed(omega, scale(a, K v), u)`` and ``t = K^T u`` in one sweep
    over the rows. Returns ``(ok, out_of_range, err2)``: ``err2`` is the rows'
    part of the squared stopping error, the row marginal violation ``u_i (K
    v)_i - a_i`` of the new plan when balanced (``phi = 1``; rounding only when
    ``omega = 1``), else the change ``(K v)_i (plain_i - u_i)`` that the plain
    update makes. A refreshed row (its sum under/overflowed) takes the plain
    update (its old scaling belongs to the old potential) and makes a
    generalised ``err2`` inf. ``ok`` is False on an unusable row sum when not
    stabilising."""
    n, m = K.shape
    for j in range(m):
        t[j] = 0.0
    wide = False
    err = 0.0
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += K[i, j] * v[j]
        fresh = False
        if not _usable(s, tiny):
            if not stabilize:
                return False, wide, err
            s = _refresh_row(K, M, a, alpha, beta, v, i, eps, phi, tiny)
            if not _usable(s, tiny):
                return False, wide, err
            fresh = True
        plain = _scale(a[i], s, phi, alpha[i], eps)
        ui = plain if fresh else relaxed(omega, plain, u[i])
        e = ui * s - a[i] if phi == 1.0 else (np.inf if fresh else s * (plain - u[i]))
        err += e * e
        u[i] = ui
        wide |= (ui > TAU) | (ui * TAU < 1.0)
        for j in range(m):
            t[j] += ui * K[i, j]
    return True, wide, err


# a zero sum: inf, caught as unusable
@njit(cache=True, fastmath=FAST, error_model="numpy", _nrt=False)
def col_pass(K, M, b, alpha, beta, u, v, t, w, eps, phi, stabilize, tiny):
    """The plain column update ``w = scale(b, t)`` with ``t = K^T u`` from
    :func:`row_pass`, and the columns' part of the squared stopping error:
    ``t_j v_j - b_j``, the column marginal violation of the plan ``(u, v)``,
    when balanced, else the change ``t_j (w_j - v_j)``. ``v`` is left to
    :func:`take_columns`, except a refreshed column (its sum under/overflowed:
    exact log-sum-exp update of its potential), which takes ``v_j = w_j`` and
    makes the error inf. Returns ``(ok, err2)``."""
    m = t.shape[0]
    err = 0.0
    usable = True
    if phi == 1.0:  # branch-free balanced loop, vectorised
        for j in range(m):
            tj = t[j]
            usable &= _usable(tj, tiny)
            d = tj * v[j] - b[j]
            err += d * d
            w[j] = b[j] / tj
    else:
        for j in range(m):
            tj = t[j]
            usable &= _usable(tj, tiny)
            wj = _scale(b[j], tj, phi, beta[j], eps)
            d = tj * (wj - v[j])
            err += d * d
            w[j] = wj
    if usable:
        return True, err
    if not stabilize:
        return False, np.inf
    for j in range(m):
        if not _usable(t[j], tiny):
            tj = _refresh_col(K, M, b, alpha, beta, u, j, eps, phi, tiny)
            if not _usable(tj, tiny):
                return False, np.inf
            w[j] = _scale(b[j], tj, phi, beta[j], eps)
            v[j] = w[j]
    return True, np.inf


@njit(cache=True, fastmath=FAST, _nrt=False)
def take_columns(v, w, omega):
    """``v = relaxed(omega, w, v)``; returns whether some ``v_j`` left
    ``[1 / TAU, TAU]``."""
    wide = False
    for j in range(v.shape[0]):
        vj = relaxed(omega, w[j], v[j])
        v[j] = vj
        wide |= (vj > TAU) | (vj * TAU < 1.0)
    return wide


@njit(cache=True, fastmath=FAST, _nrt=False)
def absorb(K, M, u, v, alpha, beta, eps, next_eps, tiny):
    """Move the scalings into the potentials, ``alpha += eps log u`` and
    ``beta += eps log v`` (``eps``: the stage the scalings belong to), set
    ``u = v = 1`` and recompute ``K_ij = exp((alpha_i + beta_j - M_ij) /
    next_eps)`` (``next_eps``: ``eps``, or ``eps / 2`` for the next stage).

    The plan is unchanged when ``next_eps = eps``. The kernel is computed from
    ``M`` rather than as ``u_i K_ij v_j``: an entry flushed to 0 while its
    potentials were far off comes back once they have moved (multiplying it
    would leave it 0 for good and solve another problem: in float32 a
    converged plan's cost was off by 7%). Every exponent is at most about 0
    (the plan's entries are at most its mass, and squaring them for the next
    stage keeps them below 1), within :func:`fast_exp`'s range."""
    n, m = K.shape
    for i in range(n):
        alpha[i] += eps * math.log(u[i])
        u[i] = 1.0
    for j in range(m):
        beta[j] += eps * math.log(v[j])
        v[j] = 1.0
    inv = 1.0 / next_eps
    for i in range(n):
        Mi, Ki, ai = M[i], K[i], alpha[i]
        for j in range(m):
            Ki[j] = fast_exp((ai + beta[j] - Mi[j]) * inv, tiny)


@njit(cache=True, fastmath=FAST, _nrt=False)
def _start_columns(K, b, beta, u, v, t, eps, phi, tiny):
    """First half-iteration from ``u = 1``: ``v = scale(b, K^T 1)``."""
    n, m = K.shape
    for j in range(m):
        t[j] = 0.0
    for i in range(n):
        u[i] = 1.0
        for j in range(m):
            t[j] += K[i, j]
    for j in range(m):
        v[j] = _scale(b[j], t[j], phi, beta[j], eps) if t[j] > tiny else 1.0
