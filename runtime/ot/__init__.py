"""Numba-compiled optimal transport kernels (the hot path of every agent).

Public API (POT-like argument names; arrays are NumPy, float64 or float32):

- :func:`sinkhorn` — entropic OT, kernel or log domain (:mod:`.sinkhorn`)
- :func:`sinkhorn_batch` — many small problems in one call (:mod:`.batch`)
- :func:`sinkhorn_unbalanced` — KL-relaxed marginals (:mod:`.unbalanced`)
- :func:`barycenter` — fixed-support entropic barycenter (:mod:`.barycenter`)
- :func:`wasserstein_1d` — exact W_p on the line (:mod:`.one_d`)
- :func:`sliced_wasserstein` — random-projection W_p (:mod:`.sliced`)
- :func:`emd` — exact OT by a network simplex (:mod:`.emd`)
- :func:`sinkhorn_divergence` — debiased Sinkhorn divergence (:mod:`.divergence`)
- :class:`OTResult`, :class:`OTInputError`, :func:`warmup`
"""

from otswarm.ot._cache import drop_stale_cache

drop_stale_cache()

from otswarm.ot.barycenter import barycenter  # noqa: E402
from otswarm.ot.batch import sinkhorn_batch  # noqa: E402
from otswarm.ot.divergence import sinkhorn_divergence  # noqa: E402
from otswarm.ot.emd import emd  # noqa: E402
from otswarm.ot.errors import OTInputError  # noqa: E402
from otswarm.ot.one_d import wasserstein_1d  # noqa: E402
from otswarm.ot.result import OTResult  # noqa: E402
from otswarm.ot.sinkhorn import sinkhorn  # noqa: E402
from otswarm.ot.sliced import sliced_wasserstein  # noqa: E402
from otswarm.ot.unbalanced import sinkhorn_unbalanced  # noqa: E402
from otswarm.ot.warmup import warmup  # noqa: E402

__all__ = [
    "OTInputError",
    "OTResult",
    "barycenter",
    "emd",
    "sinkhorn",
    "sinkhorn_batch",
    "sinkhorn_divergence",
    "sinkhorn_unbalanced",
    "sliced_wasserstein",
    "warmup",
    "wasserstein_1d",
]
