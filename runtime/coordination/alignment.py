"""Policy alignment: anchored Wasserstein consensus of the agents' action distributions.

Every agent holds a *consensus state* ``s_i``: a histogram over the ordered
actions (duty levels), and an *anchor* ``m_i``: a fast exponential average of its
own live policy's outputs. Each round it takes the weighted W2 barycenter of its
state, its anchor and its neighbours' states (Friedkin-Johnsen in quantile space),
with step ``eta`` in [0, 1] and anchor weight ``lam`` in [0, 1):

    Q_i <- (1-eta)(1-lam) Q_i + (1-eta) lam Q_{m_i} + eta * mean_{j in N(i)} Q_j

so every round takes in the live policy again. With ``lam = 0`` this is pure
DeGroot consensus (:func:`align_step`), whose state forgets the policy once
seeded. The map is a contraction with factor ``rho = 1 - (1-eta) lam`` in
``max_i W1(s_i, s'_i)`` (quantile averaging is linear, linear binning is
1-Lipschitz in W1), so the states converge geometrically to a unique fixed point
``Q* = P Q_m`` with ``P`` row-stochastic: when all anchors are equal the spread
``max_{i,j} W1(s_i, s_j)`` goes to 0 geometrically (also with message loss: a lost
message only changes that round's weights); otherwise it settles at an
equilibrium no wider than the anchors' spread (docs/coordination.md).

The state is applied to the live policy through the monotone OT map that carries
``m_i`` onto ``s_i``: the tick's action probabilities ``pi`` become
``pi @ K(m_i -> s_i)``. Pushing forward is linear, so the agent's realised action
marginal is ``s_i`` while the ordering of its own decisions (more duty when its
policy says more duty) is kept.
"""

from __future__ import annotations

import numpy as np

from otswarm.coordination.errors import HistogramError
from otswarm.coordination.quantile import (
    barycenter_1d,
    check_histograms,
    check_support,
    monotone_kernel,
)

DEFAULT_ANCHOR = 0.2  # lam: see docs/coordination.md, "Choosing the anchor weight"
DEFAULT_REFERENCE_RATE = 0.5  # weight of a tick in m_i: half-life of one tick (= one round)


def anchored_step(own, anchor, neighbours, support, step: float, lam: float) -> np.ndarray:
    """One Friedkin-Johnsen move of ``own`` (state) toward ``anchor`` and ``neighbours``.

    The W2 barycenter of ``own``, ``anchor`` and the ``(m, n)`` ``neighbours`` with
    weights ``(1-step)(1-lam)``, ``(1-step) lam`` and ``step / m`` each. With no
    neighbours the weights of ``own`` and ``anchor`` are renormalised to
    ``1 - lam`` and ``lam``.
    """
    x = check_support(support)
    if not 0.0 <= step <= 1.0:
        raise HistogramError(f"alignment step must be in [0, 1], got {step}")
    if not 0.0 <= lam < 1.0:
        raise HistogramError(f"alignment anchor must be in [0, 1), got {lam}")
    own, anchor = check_histograms(np.vstack([own, anchor]), x.size, "own/anchor histogram")
    m = len(neighbours)
    if m == 0:
        return barycenter_1d(np.vstack([own, anchor]), x, [1.0 - lam, lam])
    nbrs = check_histograms(neighbours, x.size, "neighbour histograms")
    weights = np.concatenate(
        ([(1.0 - step) * (1.0 - lam), (1.0 - step) * lam], np.full(m, step / m))
    )
    return barycenter_1d(np.vstack([own, anchor, nbrs]), x, weights)


def align_step(own, neighbours, support, step: float) -> np.ndarray:
    """Pure DeGroot move of ``own`` toward the barycenter of ``neighbours`` (no anchor).

    Weights ``1 - step`` and ``step / m``: the displacement interpolation toward
    the neighbours' barycenter: plain consensus, with no live policy to anchor to
    (the scale and alignment benchmarks' reference).
    """
    return anchored_step(own, own, neighbours, support, step, 0.0)


class PolicyAligner:
    """Per-agent alignment of a live policy's action probabilities.

    Call :meth:`apply` on every tick with the policy's probability vector (over
    the ordered ``support``) and sample the action from what it returns; call
    :meth:`consensus_round` once per round with the neighbours' published
    histograms, and publish :attr:`state`. ``reference_rate`` is the weight of
    each tick in the exponential average ``m_i`` of the policy's own outputs (the
    anchor); ``anchor`` is ``lam``, the anchor's weight in each round.
    """

    def __init__(
        self,
        support,
        step: float = 0.5,
        anchor: float = DEFAULT_ANCHOR,
        reference_rate: float = DEFAULT_REFERENCE_RATE,
    ):
        self.support = check_support(support)
        if not 0.0 < reference_rate <= 1.0:
            raise HistogramError(f"reference_rate must be in (0, 1], got {reference_rate}")
        if not 0.0 <= step <= 1.0:
            raise HistogramError(f"alignment step must be in [0, 1], got {step}")
        if not 0.0 <= anchor < 1.0:
            raise HistogramError(f"alignment anchor must be in [0, 1), got {anchor}")
        self.step = step
        self.anchor = anchor
        self.reference_rate = reference_rate
        self.reference: np.ndarray | None = None
        self.state: np.ndarray | None = None
        self._kernel: np.ndarray | None = None

    def apply(self, probs) -> np.ndarray:
        """Aligned action probabilities for this tick (identity before the first round)."""
        p = check_histograms(probs, self.support.size, "policy probabilities")[0]
        if self.reference is None:
            self.reference = p.copy()
        else:
            self.reference += self.reference_rate * (p - self.reference)
            self._kernel = None
        if self.state is None:
            return p
        if self._kernel is None:
            self._kernel = monotone_kernel(self.reference, self.state, self.support)
        return p @ self._kernel

    def consensus_round(self, neighbours, step: float | None = None) -> np.ndarray:
        """One anchored consensus move (:func:`anchored_step`); returns the new state.

        ``step`` overrides the default (the drift monitor's adaptation rate drives
        it). The first round starts from the policy's own average output.
        """
        if self.reference is None:
            raise HistogramError("consensus_round before any apply(): no policy output yet")
        if self.state is None:
            self.state = self.reference.copy()
        self.state = anchored_step(
            self.state,
            self.reference,
            neighbours,
            self.support,
            self.step if step is None else step,
            self.anchor,
        )
        self._kernel = None
        return self.state

    def reanchor(self) -> None:
        """Restart consensus from the policy's own average (after a stale-policy event)."""
        if self.reference is not None:
            self.state = self.reference.copy()
            self._kernel = None
