"""Policy inference on the board: an int8 LiteRT model, its card, and the
observation builder that turns measured quantities into the model's input."""

from otswarm.policy.card import ModelCard, card_path_for
from otswarm.policy.errors import ObservationError, PolicyCardError
from otswarm.policy.observation import (
    HARVEST_DUTY_LEVELS,
    HARVEST_FEATURES,
    HARVEST_OBSERVATION,
    HARVEST_QUANTITIES,
    build_observation,
)
from otswarm.policy.policy import Policy

__all__ = [
    "HARVEST_DUTY_LEVELS",
    "HARVEST_FEATURES",
    "HARVEST_OBSERVATION",
    "HARVEST_QUANTITIES",
    "ModelCard",
    "ObservationError",
    "Policy",
    "PolicyCardError",
    "build_observation",
    "card_path_for",
]
