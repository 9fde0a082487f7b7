"""Quantisation-aware actors: the simulated int8 grids are the ones the converter
writes, so the LiteRT model computes what the Keras model computes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from otswarm.policy import Policy
from otswarm.trainer.export import export_policy
from otswarm.trainer.networks import (
    build_actor,
    is_quantization_aware,
    load_actor,
    without_quantization,
)
from otswarm.trainer.quantization import MovingRangeQuant, QuantizedDense

OBS, ACTIONS = 18, 5  # the spread layout, so the card matches


def trained_ranges(seed: int = 0) -> tuple[tf.keras.Model, np.ndarray]:
    """A quantisation-aware actor whose ranges have seen a few training batches,
    and observations shaped like spread's (positions within a few units)."""
    rng = np.random.default_rng(seed)
    states = rng.normal(0.0, 1.0, (4000, OBS)).astype(np.float32)
    actor = build_actor(OBS, ACTIONS, (32, 32), seed, quantization_aware=True)
    # weights that give the softmax something to decide
    last = [layer for layer in actor.layers if isinstance(layer, QuantizedDense)][-1]
    last.kernel.assign(rng.normal(0.0, 0.5, last.kernel.shape))
    for batch in np.array_split(states, 4):
        actor(batch, training=True)
    return actor, states


def test_ranges_move_only_on_training_calls_and_always_hold_zero():
    layer = MovingRangeQuant(decay=0.5)
    layer.build(())
    assert (float(layer.low), float(layer.high)) == (-6.0, 6.0)
    layer(tf.constant([1.0, 3.0]), training=False)
    assert (float(layer.low), float(layer.high)) == (-6.0, 6.0)
    layer(tf.constant([1.0, 3.0]), training=True)  # the first batch replaces the range
    assert (float(layer.low), float(layer.high)) == (0.0, 3.0)
    layer(tf.constant([-2.0, 1.0]), training=True)  # then a moving average, decay 0.5
    assert float(layer.low) == pytest.approx(-1.0) and float(layer.high) == pytest.approx(2.0)


def test_outputs_lie_on_the_int8_grid_of_their_range():
    layer = MovingRangeQuant()
    layer.build(())
    x = np.linspace(-7.0, 7.0, 1001, dtype=np.float32)
    q = layer(tf.constant(x)).numpy()
    step = 12.0 / 255.0
    # the range is nudged by under one step so that 0 is a grid point
    assert len(np.unique(q)) == 256 and np.abs(q).max() <= 6.0 + step
    assert 0.0 in q and np.allclose(np.diff(np.unique(q)), step, atol=1e-5)
    assert np.abs(q - x)[np.abs(x) < 5.9].max() <= step / 2 + 1e-6


def test_quantized_dense_refuses_an_activation_it_cannot_simulate():
    layer = QuantizedDense(4, "relu")
    with pytest.raises(ValueError, match="tanh or linear"):
        layer(tf.zeros((1, 3)))


def test_saved_actor_reloads_with_its_ranges(tmp_path):
    actor, states = trained_ranges()
    actor.save(tmp_path / "actor.keras")
    loaded = load_actor(tmp_path / "actor.keras")
    assert is_quantization_aware(loaded) and not is_quantization_aware(without_quantization(loaded))
    np.testing.assert_array_equal(loaded(states).numpy(), actor(states).numpy())


def test_the_converter_keeps_the_simulated_ranges_and_litert_reproduces_the_actor(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    actor, states = trained_ranges()
    model = tmp_path / "qat_int8.tflite"
    export_policy(actor, "spread", states[:500], model, {}, {})
    ranges = [layer for layer in actor.layers if isinstance(layer, MovingRangeQuant)]
    interpreter = Interpreter(model_path=str(model))
    input_scale = interpreter.get_input_details()[0]["quantization"][0]
    low, high = float(ranges[0].low), float(ranges[0].high)
    assert input_scale == pytest.approx((high - low) / 255, rel=1e-6)
    scales = sorted(
        float(t["quantization_parameters"]["scales"][0])
        for t in interpreter.get_tensor_details()
        if t["name"].endswith("MatMul") and t["dtype"] == np.int8
    )
    dense = [layer for layer in actor.layers if isinstance(layer, QuantizedDense)]
    expected = sorted((float(d.output_quant.high) - float(d.output_quant.low)) / 255 for d in dense)
    np.testing.assert_allclose(scales, expected, rtol=1e-6)

    policy = Policy(model)
    int8 = policy.action_probabilities(states)
    keras = actor(states).numpy()
    # the same grid values up to the integer rescaling, the softmax table, the
    # unrounded Keras output and the Policy's renormalisation: within 4 steps of 1/256
    assert np.abs(int8 - keras).max() <= 4 / 256
    plain = without_quantization(actor)(states).numpy()
    assert np.abs(int8 - plain).max() > 2 * np.abs(int8 - keras).max()
    clear = np.sort(keras, axis=1)[:, -1] - np.sort(keras, axis=1)[:, -2] > 8 / 256
    assert np.array_equal(int8[clear].argmax(axis=1), keras[clear].argmax(axis=1))
    assert clear.mean() > 0.9


def test_unquantized_twin_has_the_same_weights():
    actor, states = trained_ranges()
    twin = without_quantization(actor)
    pairs = zip(
        [layer for layer in actor.layers if isinstance(layer, QuantizedDense)],
        [layer for layer in twin.layers if isinstance(layer, tf.keras.layers.Dense)],
        strict=True,
    )
    for qat, plain in pairs:
        np.testing.assert_array_equal(qat.kernel.numpy(), plain.kernel.numpy())
    # int8 grids move a probability by a few hundredths at most on these weights
    assert np.abs(twin(states).numpy() - actor(states).numpy()).max() < 0.1
