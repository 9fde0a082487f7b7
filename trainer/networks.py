"""Small Keras networks: the shared actor (what the board runs) and the critic."""

from __future__ import annotations

import tensorflow as tf

from otswarm.trainer.quantization import MovingRangeQuant, QuantizedDense


def build_actor(
    obs_size: int,
    n_actions: int,
    hidden: tuple[int, ...],
    seed: int,
    quantization_aware: bool = False,
) -> tf.keras.Model:
    """obs -> action probabilities (softmax), tanh MLP; the exported model.

    ``quantization_aware``: the input, weights and activations are simulated on
    the int8 grids the exported model uses (:mod:`otswarm.trainer.quantization`)."""
    init = tf.keras.initializers.Orthogonal
    dense = QuantizedDense if quantization_aware else tf.keras.layers.Dense
    inputs = tf.keras.Input(shape=(obs_size,), name="observation")
    x = MovingRangeQuant(name="observation_range")(inputs) if quantization_aware else inputs
    for i, width in enumerate(hidden):
        x = dense(width, "tanh", kernel_initializer=init(1.4, seed + i))(x)
    logits = dense(n_actions, kernel_initializer=init(0.01, seed + 99))(x)
    probs = tf.keras.layers.Softmax(name="action_probabilities")(logits)
    return tf.keras.Model(inputs, probs, name="actor")


def build_critic(state_size: int, hidden: tuple[int, ...], seed: int) -> tf.keras.Model:
    """(centralised) state -> normalised value, tanh MLP."""
    init = tf.keras.initializers.Orthogonal
    inputs = tf.keras.Input(shape=(state_size,), name="state")
    x = inputs
    for i, width in enumerate(hidden):
        x = tf.keras.layers.Dense(width, "tanh", kernel_initializer=init(1.4, seed + 50 + i))(x)
    value = tf.keras.layers.Dense(1, kernel_initializer=init(1.0, seed + 98))(x)
    return tf.keras.Model(inputs, value[:, 0], name="critic")


def without_quantization(actor: tf.keras.Model) -> tf.keras.Model:
    """The plain float actor with the same weights as ``actor`` (no fake quantisation)."""
    dense = [layer for layer in actor.layers if isinstance(layer, tf.keras.layers.Dense)]
    twin = build_actor(
        actor.input_shape[-1], dense[-1].units, tuple(d.units for d in dense[:-1]), seed=0
    )
    twin_dense = [layer for layer in twin.layers if isinstance(layer, tf.keras.layers.Dense)]
    for source, target in zip(dense, twin_dense, strict=True):
        target.set_weights([source.kernel.numpy(), source.bias.numpy()])
    return twin


def is_quantization_aware(actor: tf.keras.Model) -> bool:
    """Whether ``actor`` simulates its int8 export (built with ``quantization_aware``)."""
    return any(isinstance(layer, QuantizedDense) for layer in actor.layers)


def load_actor(path) -> tf.keras.Model:
    """A saved actor, plain or quantisation-aware (its layers are registered on import)."""
    return tf.keras.models.load_model(path)
