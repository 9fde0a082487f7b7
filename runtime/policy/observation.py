"""The observation contract of the ``harvest`` policy and the builder that turns
quantities a board really measures into the policy's input vector.

A board knows, at every decision (units in brackets):

========================  =====================================================
``battery_soc``           battery state of charge [0..1]
``harvest_w``             power delivered by its panel right now [W]
``load_w``                power its load draws right now [W]
``hour_of_day``           local time [h, 0..24)
``duty``                  the duty level it currently runs [0..1]
``received_w``            energy received from the swarm over the last decision
                          interval divided by that interval [W] (0 when alone)
========================  =====================================================

``hour_of_day`` enters the policy as ``time_sin = sin(2 pi h / 24)`` and
``time_cos = cos(2 pi h / 24)`` so midnight is next to 23:59. Every feature ``x``
is then normalised as ``(x - offset) / scale`` with the offset and scale stored
in the model card, in the order the card lists them. The order and names below
are the stable contract; a card that lists other names is refused by
:class:`otswarm.policy.Policy`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from otswarm.policy.errors import ObservationError

# Quantities a board supplies (the input of build_observation).
HARVEST_QUANTITIES = ("battery_soc", "harvest_w", "load_w", "hour_of_day", "duty", "received_w")

# Features the harvest policy sees, in order, with their default normalisation.
# Scales are the physical ranges of the training environment (trainer/envs/harvest.py):
# panels up to 30 W peak, loads up to 8 W, sharing up to 10 W.
HARVEST_FEATURES: tuple[dict, ...] = (
    {"name": "battery_soc", "unit": "1", "offset": 0.5, "scale": 0.5},
    {"name": "harvest_w", "unit": "W", "offset": 0.0, "scale": 30.0},
    {"name": "load_w", "unit": "W", "offset": 0.0, "scale": 8.0},
    {"name": "time_sin", "unit": "1", "offset": 0.0, "scale": 1.0},
    {"name": "time_cos", "unit": "1", "offset": 0.0, "scale": 1.0},
    {"name": "duty", "unit": "1", "offset": 0.5, "scale": 0.5},
    {"name": "received_w", "unit": "W", "offset": 0.0, "scale": 10.0},
)
HARVEST_OBSERVATION = tuple(f["name"] for f in HARVEST_FEATURES)

# Ordered duty levels the harvest policy chooses from (action index -> duty).
HARVEST_DUTY_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


def harvest_features(quantities: Mapping[str, float | np.ndarray]) -> dict[str, np.ndarray]:
    """Map the measured quantities to the named (unnormalised) features.

    Works element-wise on arrays, so the training environment uses the very same
    code for a batch of agents. Raises :class:`ObservationError` for a missing
    quantity or a non-finite value.
    """
    missing = [name for name in HARVEST_QUANTITIES if name not in quantities]
    if missing:
        raise ObservationError(f"harvest observation: missing quantities {missing}")
    values = {name: np.asarray(quantities[name], dtype=np.float64) for name in HARVEST_QUANTITIES}
    bad = [name for name, value in values.items() if not np.all(np.isfinite(value))]
    if bad:
        raise ObservationError(f"harvest observation: non-finite values in {bad}")
    angle = values["hour_of_day"] * (2.0 * math.pi / 24.0)
    return {
        "battery_soc": values["battery_soc"],
        "harvest_w": values["harvest_w"],
        "load_w": values["load_w"],
        "time_sin": np.sin(angle),
        "time_cos": np.cos(angle),
        "duty": values["duty"],
        "received_w": values["received_w"],
    }


def normalise(features: Mapping[str, np.ndarray], layout: Sequence[Mapping]) -> np.ndarray:
    """Stack ``features`` in ``layout`` order as float32, each ``(x - offset) / scale``.

    ``layout`` is a list of ``{"name", "offset", "scale"}`` records (the card's
    ``observation`` field). The result has shape ``(*batch, len(layout))``.
    """
    try:
        columns = [
            (np.asarray(features[item["name"]]) - item["offset"]) / item["scale"] for item in layout
        ]
    except KeyError as exc:
        raise ObservationError(f"observation: no feature named {exc.args[0]!r}") from exc
    return np.stack(columns, axis=-1).astype(np.float32)


def build_observation(
    quantities: Mapping[str, float], layout: Sequence[Mapping] = HARVEST_FEATURES
) -> np.ndarray:
    """The harvest policy's input vector (float32, shape ``(len(layout),)``) from a
    dict of the quantities in :data:`HARVEST_QUANTITIES`, ordered and normalised as
    ``layout`` (pass ``policy.card.observation`` to follow a model's card)."""
    return normalise(harvest_features(quantities), layout)
