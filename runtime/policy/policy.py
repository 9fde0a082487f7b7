"""A trained policy on the board: an int8 .tflite model run by LiteRT, plus its card.

``action_probabilities(obs)`` takes the normalised observation vector (build it
with :func:`otswarm.policy.observation.build_observation`) and returns the
probability of every action, in the card's (ordered) action order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from otswarm.policy.card import ModelCard, card_path_for
from otswarm.policy.errors import ObservationError, PolicyCardError
from otswarm.policy.interpreter import native_stderr_to_log, open_interpreter
from otswarm.policy.observation import HARVEST_OBSERVATION

log = logging.getLogger(__name__)

# Observation layouts the runtime knows; a shipped model must match its entry.
EXPECTED_OBSERVATION = {"harvest": HARVEST_OBSERVATION}
# shipped name -> (model file under models/, env the card must name)
DEFAULT_MODELS = {
    "harvest": ("harvest_int8.tflite", "harvest"),
    "spread": ("spread_int8.tflite", "spread"),  # MAPPO with the OT extensions
    "spread_mappo": ("spread_mappo_int8.tflite", "spread"),  # MAPPO alone
}


class Policy:
    """An int8 policy loaded with LiteRT and checked against its model card.

    ``expected_observation``: the observation names (in order) the caller will
    feed; a card listing anything else raises :class:`PolicyCardError`, as does a
    card whose sizes or quantisation disagree with the model itself.
    """

    def __init__(
        self,
        model_path: str | Path,
        card_path: str | Path | None = None,
        expected_observation: Sequence[str] | None = None,
        num_threads: int = 1,
    ) -> None:
        self.model_path = Path(model_path)
        self.card = ModelCard.load(card_path or card_path_for(model_path))
        if expected_observation is not None and tuple(expected_observation) != (
            self.card.observation_names
        ):
            raise PolicyCardError(
                f"{self.card.source}: observation layout {list(self.card.observation_names)} "
                f"does not match the expected {list(expected_observation)}"
            )
        self._interpreter = open_interpreter(self.model_path, num_threads=num_threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._check_model_against_card()
        self._batch = 1

    @classmethod
    def load_default(cls, name: str) -> Policy:
        """A policy shipped with otswarm: ``"harvest"``, ``"spread"``, ``"spread_mappo"``."""
        if name not in DEFAULT_MODELS:
            raise PolicyCardError(
                f"no shipped policy named {name!r}; have {sorted(DEFAULT_MODELS)}"
            )
        file_name, env = DEFAULT_MODELS[name]
        model = resources.files("otswarm.policy") / "models" / file_name
        policy = cls(Path(str(model)), expected_observation=EXPECTED_OBSERVATION.get(env))
        if policy.card.env != env:
            raise PolicyCardError(f"{policy.card.source}: card is for env {policy.card.env!r}")
        return policy

    @property
    def observation_size(self) -> int:
        return len(self.card.observation)

    @property
    def action_values(self) -> tuple[float, ...]:
        """The value of each action (for harvest: the duty level in 0..1)."""
        return self.card.action_values

    def action_probabilities(self, obs: np.ndarray) -> np.ndarray:
        """Probabilities over the ordered actions: shape ``(n_actions,)`` for one
        observation of shape ``(n_obs,)``, ``(B, n_actions)`` for a batch ``(B, n_obs)``."""
        obs = np.asarray(obs, dtype=np.float32)
        single = obs.ndim == 1
        batch = obs.reshape(1, -1) if single else obs
        if batch.ndim != 2 or batch.shape[1] != self.observation_size:
            raise ObservationError(
                f"{self.model_path.name}: observation shape {obs.shape}, "
                f"expected (..., {self.observation_size})"
            )
        if not np.all(np.isfinite(batch)):
            raise ObservationError(f"{self.model_path.name}: observation has non-finite values")
        self._resize(batch.shape[0])
        self._interpreter.set_tensor(self._input["index"], self._quantise(batch))
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._output["index"])
        probs = self._dequantise(raw)
        probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
        return probs[0] if single else probs

    def greedy_action(self, obs: np.ndarray) -> np.ndarray | int:
        """Index of the most probable action (per row for a batch)."""
        probs = self.action_probabilities(obs)
        return int(np.argmax(probs)) if probs.ndim == 1 else np.argmax(probs, axis=1)

    def _quantise(self, batch: np.ndarray) -> np.ndarray:
        scale, zero_point = self._input["quantization"]
        if self._input["dtype"] == np.float32:
            return batch
        info = np.iinfo(self._input["dtype"])
        q = np.round(batch / scale) + zero_point
        return np.clip(q, info.min, info.max).astype(self._input["dtype"])

    def _dequantise(self, raw: np.ndarray) -> np.ndarray:
        scale, zero_point = self._output["quantization"]
        if self._output["dtype"] == np.float32:
            return raw.astype(np.float64)
        return (raw.astype(np.float64) - zero_point) * scale

    def _resize(self, batch_size: int) -> None:
        if batch_size != self._batch:
            self._interpreter.resize_tensor_input(
                self._input["index"], [batch_size, self.observation_size]
            )
            with native_stderr_to_log():
                self._interpreter.allocate_tensors()
            self._input = self._interpreter.get_input_details()[0]
            self._output = self._interpreter.get_output_details()[0]
            self._batch = batch_size

    def _check_model_against_card(self) -> None:
        where = self.card.source
        n_in, n_out = int(self._input["shape"][-1]), int(self._output["shape"][-1])
        if n_in != len(self.card.observation):
            raise PolicyCardError(
                f"{where}: model takes {n_in} inputs, card lists {len(self.card.observation)}"
            )
        if n_out != len(self.card.actions):
            raise PolicyCardError(
                f"{where}: model gives {n_out} outputs, card lists {len(self.card.actions)}"
            )
        for side, details in (("input", self._input), ("output", self._output)):
            scale, zero_point = details["quantization"]
            card_q = self.card.quantization[side]
            if not (
                np.isclose(scale, card_q["scale"], rtol=1e-6) and zero_point == card_q["zero_point"]
            ):
                raise PolicyCardError(
                    f"{where}: quantization.{side} {card_q} does not match the model's "
                    f"scale={scale}, zero_point={zero_point}"
                )
        log.debug("policy %s matches its card %s", self.model_path, where)
