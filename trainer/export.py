"""Full-integer int8 TFLite export of a trained actor, with its model card.

The converter calibrates activation ranges on a representative dataset of
observations drawn from rollouts of the trained policy; inputs and outputs are
int8 (``real = scale * (q - zero_point)``), so the board runs integer kernels only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from otswarm.policy.card import ModelCard, card_path_for
from otswarm.trainer.envs.registry import action_layout, observation_layout

log = logging.getLogger(__name__)


def representative_dataset(observations: np.ndarray, n: int, seed: int):
    """A converter callback yielding ``n`` single observations sampled from rollouts."""
    rng = np.random.default_rng(seed)
    picks = observations[rng.choice(len(observations), min(n, len(observations)), replace=False)]

    def generate():
        for row in picks:
            yield [row[None].astype(np.float32)]

    return generate


def convert_int8(
    actor: tf.keras.Model, observations: np.ndarray, seed: int, n: int = 1000
) -> bytes:
    """The actor as a full-integer int8 .tflite flatbuffer."""
    converter = tf.lite.TFLiteConverter.from_keras_model(actor)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset(observations, n, seed)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def quantization_of(model_path: Path) -> dict:
    """Input/output ``{"scale", "zero_point", "dtype"}`` read back from the model."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path))
    out = {}
    for side, details in (
        ("input", interpreter.get_input_details()[0]),
        ("output", interpreter.get_output_details()[0]),
    ):
        scale, zero_point = details["quantization"]
        out[side] = {"scale": float(scale), "zero_point": int(zero_point), "dtype": "int8"}
    return out


def export_policy(
    actor: tf.keras.Model,
    env: str,
    observations: np.ndarray,
    out_path: Path,
    training: dict,
    returns: dict,
    seed: int = 0,
) -> ModelCard:
    """Write ``out_path`` (.tflite) and its card ``NAME.card.json`` next to it."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(convert_int8(actor, observations, seed))
    card = ModelCard(
        env=env,
        observation=tuple(observation_layout(env)),
        actions=tuple(action_layout(env)),
        quantization=quantization_of(out_path),
        training=training,
        returns=returns,
    )
    card.save(card_path_for(out_path))
    log.info("exported %s (%d bytes) and its card", out_path, out_path.stat().st_size)
    return card
