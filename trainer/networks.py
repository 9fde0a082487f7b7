"""Small Keras networks: the shared actor (what the board runs) and the critic."""

from __future__ import annotations

import tensorflow as tf


def build_actor(
    obs_size: int, n_actions: int, hidden: tuple[int, ...], seed: int
) -> tf.keras.Model:
    """obs -> action probabilities (softmax), tanh MLP; the exported model."""
    init = tf.keras.initializers.Orthogonal
    inputs = tf.keras.Input(shape=(obs_size,), name="observation")
    x = inputs
    for i, width in enumerate(hidden):
        x = tf.keras.layers.Dense(width, "tanh", kernel_initializer=init(1.4, seed + i))(x)
    logits = tf.keras.layers.Dense(n_actions, kernel_initializer=init(0.01, seed + 99))(x)
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
