"""Quantisation-aware layers: the actor simulates, in float, the int8 arithmetic the
board's LiteRT interpreter will run, so training adapts to it and the converter
keeps exactly the simulated ranges.

The TFLite int8 scheme (``real = scale * (q - zero_point)``, ``q`` in -128..127):

* a tensor with range ``[a, b]`` (``a <= 0 <= b``) has ``scale = (b - a) / 255``
  and a zero point that makes 0 exact;
* Dense weights are symmetric per tensor, ``scale = max|W| / 127``;
* ``tanh`` outputs have ``scale = 1/128``, zero point 0 (range ``[-1, 127/128]``);
* the softmax output has ``scale = 1/256``, zero point -128 (range ``[0, 255/256]``).

Each simulated tensor goes through ``tf.quantization.fake_quant_with_min_max_vars``
(round to the grid in the forward pass, straight-through gradient inside the range).
Activation ranges are exponential moving averages of the batch minimum and maximum,
updated only on ``training=True`` calls (the PPO update), as in the quantisation-aware
training of the TensorFlow Model Optimization toolkit. ``TFLiteConverter`` reads the
fake-quant nodes and uses their ranges instead of recalibrating, so the int8 model
computes the same grid values as the Keras model, up to the rounding of the integer
rescaling and of the softmax lookup table.
"""

from __future__ import annotations

import keras
import tensorflow as tf

TANH_RANGE = (-1.0, 127.0 / 128.0)
SOFTMAX_RANGE = (0.0, 255.0 / 256.0)
INITIAL_RANGE = (-6.0, 6.0)  # until the first training batch is seen


def fake_quant(x, low, high):
    """``x`` rounded to the 256-level grid spanning ``[low, high]`` (nudged to hold 0)."""
    return tf.quantization.fake_quant_with_min_max_vars(x, low, high, num_bits=8)


def fake_quant_symmetric(weights):
    """Weights on the symmetric int8 grid ``k * max|W| / 127``, ``k`` in -127..127."""
    bound = tf.maximum(tf.reduce_max(tf.abs(weights)), 1e-8)
    return tf.quantization.fake_quant_with_min_max_vars(
        weights, -bound, bound, num_bits=8, narrow_range=True
    )


@keras.saving.register_keras_serializable(package="otswarm")
class MovingRangeQuant(keras.layers.Layer):
    """Fake-quantise to a range tracked as a moving average of batch min and max."""

    def __init__(self, decay: float = 0.999, **kwargs) -> None:
        super().__init__(**kwargs)
        self.decay = decay

    def build(self, input_shape) -> None:
        def scalar(name, value):
            return self.add_weight(
                name=name,
                shape=(),
                initializer=keras.initializers.Constant(value),
                trainable=False,
            )

        self.low = scalar("low", INITIAL_RANGE[0])
        self.high = scalar("high", INITIAL_RANGE[1])
        self.seen = scalar("seen", 0.0)  # 0 until the first training batch

    def call(self, x, training=False):
        if training:
            keep = self.decay * self.seen  # the first batch replaces the initial range
            self.low.assign(keep * self.low + (1.0 - keep) * tf.minimum(tf.reduce_min(x), 0.0))
            self.high.assign(keep * self.high + (1.0 - keep) * tf.maximum(tf.reduce_max(x), 0.0))
            self.seen.assign(1.0)
        return fake_quant(x, self.low, self.high)

    def get_config(self) -> dict:
        return {**super().get_config(), "decay": self.decay}


@keras.saving.register_keras_serializable(package="otswarm")
class FixedRangeQuant(keras.layers.Layer):
    """Fake-quantise to a fixed range (the tanh and softmax outputs of TFLite)."""

    def __init__(self, low: float, high: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.low, self.high = float(low), float(high)

    def call(self, x):
        return fake_quant(x, self.low, self.high)

    def get_config(self) -> dict:
        return {**super().get_config(), "low": self.low, "high": self.high}


@keras.saving.register_keras_serializable(package="otswarm")
class QuantizedDense(keras.layers.Dense):
    """``Dense`` with int8-grid weights and its output (before the activation) on a
    moving-range int8 grid; ``tanh`` outputs are put on TFLite's fixed tanh grid."""

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self.output_quant = MovingRangeQuant(name=f"{self.name}_range")
        self.output_quant.build(())

    def call(self, x, training=False):
        z = tf.matmul(x, fake_quant_symmetric(self.kernel))
        if self.use_bias:
            z = z + self.bias
        z = self.output_quant(z, training=training)
        if self.activation is keras.activations.tanh:
            return fake_quant(tf.tanh(z), *TANH_RANGE)
        if self.activation is keras.activations.linear:
            return z
        raise ValueError(f"QuantizedDense simulates tanh or linear, not {self.activation}")
