"""Reference policies the trained ones are measured against.

* ``random``: uniform over the actions.
* ``ot_assignment`` (simple_spread): each agent heads for the landmark an exact
  OT assignment gives it. With uniform weights on N agents and N landmarks the
  optimal plan of ``min_P <P, M>`` (``M[i, j] = |x_i - y_j|``) is a permutation
  (Birkhoff), found exactly by ``scipy.optimize.linear_sum_assignment``. The
  agent then picks the move whose acceleration best points at where it should
  be braking: ``target - (pos + lead * vel)``, and stays put within ``stop``.
  ``lead`` = 0.2 s and ``stop`` = 0.02 were picked on episodes 10000..10099
  (a 4 x 3 grid), apart from the evaluation seeds.
* ``constant_duty`` (harvest): every agent always runs the same duty level.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

# simple_spread discrete actions 1..4 accelerate along -x, +x, -y, +y
_MOVES = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])


def random_policy(n_actions: int, seed: int):
    rng = np.random.default_rng(seed)

    def act(obs: np.ndarray, env) -> np.ndarray:
        return rng.integers(0, n_actions, size=obs.shape[:2])

    return act


def ot_assignment_policy(lead: float = 0.2, stop: float = 0.02):
    """Greedy mover toward the exact-OT-assigned landmark (see module docstring)."""

    def act(obs: np.ndarray, env) -> np.ndarray:
        agents, landmarks, velocities = env.world_state()
        actions = np.zeros(obs.shape[:2], dtype=int)
        for k in range(len(agents)):
            cost = np.linalg.norm(agents[k][:, None] - landmarks[k][None], axis=-1)
            rows, cols = linear_sum_assignment(cost)
            aim = landmarks[k][cols] - (agents[k][rows] + lead * velocities[k][rows])
            best = np.argmax(aim @ _MOVES.T, axis=1)
            actions[k, rows] = np.where(np.linalg.norm(aim, axis=1) < stop, 0, best)
        return actions

    return act


def constant_duty_policy(action: int):
    def act(obs: np.ndarray, env) -> np.ndarray:
        return np.full(obs.shape[:2], action)

    return act
