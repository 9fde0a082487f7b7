"""Policy alignment: Wasserstein consensus of the agents' action distributions.

Every agent holds a *consensus state* ``s_i``: a histogram over the ordered
actions (duty levels). Each round it receives its neighbours' states and moves
its own toward their W2 barycenter by displacement interpolation with step
``eta`` in (0, 1]:

    Q_i <- (1 - eta) Q_i + eta * mean_{j in N(i)} Q_j          (quantile functions)

In quantile space this is linear consensus with a row-stochastic matrix that has
a positive diagonal when ``eta < 1``. W1 is the L1 norm of quantile differences,
so the spread ``max_{i,j} W1(s_i, s_j)`` contracts by at least the Dobrushin
coefficient of that matrix over any window in which the graph is connected:
the spread shrinks geometrically, also when messages are lost (a lost message
only changes the weights of that round).

The state is applied to the live policy through the monotone OT map that carries
the agent's own average policy output ``m_i`` onto ``s_i``: the tick's action
probabilities ``pi`` become ``pi @ K(m_i -> s_i)``. Pushing forward is linear,
so the agent's realised action marginal equals ``s_i`` while the ordering of its
own decisions (more duty when its policy says more duty) is kept.
"""

from __future__ import annotations

import numpy as np

from runtime.coordination.errors import HistogramError
from runtime.coordination.quantile import (
    barycenter_1d,
    check_histograms,
    check_support,
    monotone_kernel,
)


def align_step(own, neighbours, support, step: float) -> np.ndarray:
    """One consensus move of ``own`` toward the barycenter of ``neighbours``.

    ``own``: histogram (n,); ``neighbours``: ``(m, n)`` histograms (m may be 0:
    then ``own`` is returned); ``step``: ``eta`` in [0, 1]. Computed as one
    weighted barycenter (weights ``1 - eta`` and ``eta / m``), which equals the
    displacement interpolation toward the neighbours' barycenter.
    """
    x = check_support(support)
    own = check_histograms(own, x.size, "own histogram")[0]
    if not 0.0 <= step <= 1.0:
        raise HistogramError(f"alignment step must be in [0, 1], got {step}")
    if len(neighbours) == 0 or step == 0.0:
        return own
    nbrs = check_histograms(neighbours, x.size, "neighbour histograms")
    m = nbrs.shape[0]
    weights = np.concatenate(([1.0 - step], np.full(m, step / m)))
    return barycenter_1d(np.vstack([own, nbrs]), x, weights)


class PolicyAligner:
    """Per-agent alignment of a live policy's action probabilities.

    Call :meth:`apply` on every tick with the policy's probability vector (over
    the ordered ``support``) and sample the action from what it returns; call
    :meth:`consensus_round` once per round with the neighbours' published
    histograms, and publish :attr:`state`. ``reference_rate`` is the weight of
    each tick in the exponential average ``m_i`` of the policy's own outputs.
    """

    def __init__(self, support, step: float = 0.5, reference_rate: float = 0.05):
        self.support = check_support(support)
        if not 0.0 < reference_rate <= 1.0:
            raise HistogramError(f"reference_rate must be in (0, 1], got {reference_rate}")
        if not 0.0 <= step <= 1.0:
            raise HistogramError(f"alignment step must be in [0, 1], got {step}")
        self.step = step
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
        """Move the consensus state toward the neighbours' barycenter; returns the new state.

        ``step`` overrides the default (the drift monitor's adaptation rate drives
        it). The first round starts from the policy's own average output.
        """
        if self.state is None:
            if self.reference is None:
                raise HistogramError("consensus_round before any apply(): no policy output yet")
            self.state = self.reference.copy()
        self.state = align_step(
            self.state, neighbours, self.support, self.step if step is None else step
        )
        self._kernel = None
        return self.state

    def reanchor(self) -> None:
        """Restart consensus from the policy's own average (after a stale-policy event)."""
        if self.reference is not None:
            self.state = self.reference.copy()
            self._kernel = None
