"""The model card that travels next to every exported policy (``NAME.card.json``
beside ``NAME.tflite``): what the inputs mean and how they are normalised, what
each output means, the quantisation parameters, the training config and returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from otswarm.policy.errors import PolicyCardError

CARD_FORMAT = "otswarm-policy-card/1"
CARD_SUFFIX = ".card.json"


def card_path_for(model_path: str | Path) -> Path:
    """``dir/NAME.tflite`` -> ``dir/NAME.card.json``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + CARD_SUFFIX)


@dataclass(frozen=True)
class ModelCard:
    """A parsed, checked model card.

    ``observation``: list of ``{"name", "unit", "offset", "scale"}`` in input order
    (the policy sees ``(x - offset) / scale``); ``actions``: list of
    ``{"index", "meaning", "value"}`` in output order; ``quantization``: the int8
    ``{"input": {"scale", "zero_point"}, "output": {...}}`` of the model.
    """

    env: str
    observation: tuple[dict, ...]
    actions: tuple[dict, ...]
    quantization: dict
    training: dict
    returns: dict
    source: Path | None = None

    @property
    def observation_names(self) -> tuple[str, ...]:
        return tuple(item["name"] for item in self.observation)

    @property
    def action_values(self) -> tuple[float, ...]:
        return tuple(float(item["value"]) for item in self.actions)

    def to_json(self) -> dict:
        return {
            "format": CARD_FORMAT,
            "env": self.env,
            "observation": list(self.observation),
            "actions": list(self.actions),
            "quantization": self.quantization,
            "training": self.training,
            "returns": self.returns,
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ModelCard:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise PolicyCardError(f"{path}: model card not found") from exc
        except (OSError, json.JSONDecodeError) as exc:
            raise PolicyCardError(f"{path}: unreadable model card ({exc})") from exc
        return cls.from_json(data, source=path)

    @classmethod
    def from_json(cls, data: dict, source: Path | None = None) -> ModelCard:
        where = source or "model card"
        if not isinstance(data, dict) or data.get("format") != CARD_FORMAT:
            raise PolicyCardError(f"{where}: 'format' must be {CARD_FORMAT!r}")
        for key in ("env", "observation", "actions", "quantization"):
            if key not in data:
                raise PolicyCardError(f"{where}: missing field {key!r}")
        for i, item in enumerate(data["observation"]):
            if not {"name", "offset", "scale"} <= set(item) or float(item["scale"]) == 0.0:
                raise PolicyCardError(
                    f"{where}: observation[{i}] needs 'name', 'offset' and a non-zero 'scale'"
                )
        for i, item in enumerate(data["actions"]):
            if not {"index", "meaning", "value"} <= set(item) or item["index"] != i:
                raise PolicyCardError(
                    f"{where}: actions[{i}] needs 'index' == {i}, 'meaning' and 'value'"
                )
        for side in ("input", "output"):
            if not {"scale", "zero_point"} <= set(data["quantization"].get(side, {})):
                raise PolicyCardError(f"{where}: quantization.{side} needs scale and zero_point")
        return cls(
            env=str(data["env"]),
            observation=tuple(data["observation"]),
            actions=tuple(data["actions"]),
            quantization=data["quantization"],
            training=data.get("training", {}),
            returns=data.get("returns", {}),
            source=source,
        )
