"""Policy inference: one decision of the shipped int8 harvest policy in LiteRT.

    OMP_NUM_THREADS=1 python bench/bench_policy.py

Prints one JSON document. Per decision (one observation, batch 1, one thread),
median over 2000 calls after 200 warm-up calls:

- ``int8_policy_us``: ``Policy.action_probabilities`` on the shipped
  ``harvest_int8.tflite`` (the board's path: checks, quantise, invoke, dequantise);
- ``int8_invoke_us``: the same model, int8 tensor in, invoke, int8 tensor out;
- ``float_tflite_us``: the float32 TFLite conversion of the same actor (its Keras
  twin in ``trainer/models/``), same interpreter, no quantisation;
- ``float_keras_us``: the Keras twin called directly (the trainer's reference).

Ratios are reference time / int8 time (the interpreter alone). Model sizes are
the .tflite bytes.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

CALLS, WARMUP = 2000, 200


def _median_us(fn, inputs) -> float:
    for x in inputs[:WARMUP]:
        fn(x)
    times = []
    for x in inputs[:CALLS]:
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def _invoker(interpreter):
    """``run(x)``: one batch-1 inference of ``interpreter`` on ``x`` (its dtype)."""
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def run(x):
        interpreter.set_tensor(inp["index"], x[None])
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return run


def main() -> None:
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from otswarm.policy import Policy
    from otswarm.trainer.networks import load_actor

    tf.config.threading.set_intra_op_parallelism_threads(1)
    policy = Policy.load_default("harvest")
    actor = load_actor(ROOT / "trainer" / "models" / "harvest_actor.keras")
    rng = np.random.default_rng(0)
    inputs = rng.uniform(-1, 1, (CALLS, policy.observation_size)).astype(np.float32)

    with contextlib.redirect_stdout(io.StringIO()):  # the converter chats on stdout
        float_bytes = tf.lite.TFLiteConverter.from_keras_model(actor).convert()
    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(float_bytes)
        f.flush()
        float_run = _invoker(Interpreter(model_path=f.name, num_threads=1))
    int8_run = _invoker(Interpreter(model_path=str(policy.model_path), num_threads=1))
    int8_inputs = np.clip(np.round(inputs / 0.01), -128, 127).astype(np.int8)

    policy_us = _median_us(policy.action_probabilities, inputs)
    int8_us = _median_us(int8_run, int8_inputs)
    float_us = _median_us(float_run, inputs)
    keras_us = _median_us(lambda x: actor(x[None], training=False), inputs)
    print(
        json.dumps(
            {
                "int8_policy_us": round(policy_us, 1),
                "int8_invoke_us": round(int8_us, 1),
                "float_tflite_us": round(float_us, 1),
                "float_keras_us": round(keras_us, 1),
                "float_tflite_over_int8": round(float_us / int8_us, 2),
                "keras_over_int8": round(keras_us / int8_us, 2),
                "int8_model_bytes": policy.model_path.stat().st_size,
                "float_model_bytes": len(float_bytes),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
