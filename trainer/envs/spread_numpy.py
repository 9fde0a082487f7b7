"""A NumPy re-implementation of MPE2 ``simple_spread_v3`` (discrete actions,
``local_ratio`` 0.5) that steps a whole batch of episodes at once, for training
only: evaluation and every number in docs/results.md use the real MPE2 env.
``tests/test_trainer_env.py`` checks the two give the same observations and
rewards for the same start and actions.

Physics of MPE (``mpe2/_mpe_utils/core.py``), per step ``dt`` = 0.1, unit mass:

    force_i = 5 u_i + sum_j c (p_i - p_j) / |p_i - p_j| * k log(1 + exp(-(|p_i - p_j| - 2 s) / k))
    p_i <- p_i + v_i dt,   v_i <- (1 - damping) v_i + force_i dt

with ``u_i`` the unit move of the action, agent size ``s`` = 0.15, contact
force ``c`` = 100, margin ``k`` = 1e-3, damping 0.25. Reward of agent ``i``:
``0.5 * (-sum_l min_j |p_j - x_l|) + 0.5 * (-#{j != i : |p_i - p_j| < 2 s})``.
"""

from __future__ import annotations

import numpy as np

from otswarm.trainer.envs.spread import SpreadBatch

DT, DAMPING, SENSITIVITY = 0.1, 0.25, 5.0
SIZE, CONTACT_FORCE, CONTACT_MARGIN, LOCAL_RATIO = 0.15, 1e2, 1e-3, 0.5
_MOVES = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])


class VecSpreadNumpy(SpreadBatch):
    """``n_envs`` simple_spread episodes in arrays: positions (B, N, 2)."""

    def __init__(self, n_envs: int = 1, n_agents: int = 3, max_cycles: int = 25) -> None:
        super().__init__(n_envs, n_agents, max_cycles)
        self._others = np.array([[j for j in range(n_agents) if j != i] for i in range(n_agents)])

    def reset(self, seed: int) -> np.ndarray:
        """Agents and landmarks uniform in [-1, 1]^2 (as MPE2), drawn from ``seed``."""
        rng = np.random.default_rng(seed)
        shape = (self.n_envs, self._n, 2)
        return self.start(rng.uniform(-1, 1, shape), rng.uniform(-1, 1, shape))

    def start(self, agents: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Start from given agent and landmark positions (B, N, 2), at rest."""
        self.pos, self.landmarks = agents.astype(float).copy(), landmarks.astype(float).copy()
        self.vel = np.zeros_like(self.pos)
        self.t = 0
        return self.observe()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, dict]:
        delta = self.pos[:, :, None] - self.pos[:, None]  # (B, N, N, 2): p_i - p_j
        dist = np.linalg.norm(delta, axis=-1)
        safe = np.where(dist > 0, dist, 1.0)
        penetration = np.logaddexp(0, -(safe - 2 * SIZE) / CONTACT_MARGIN) * CONTACT_MARGIN
        pair = CONTACT_FORCE * delta / safe[..., None] * penetration[..., None]
        pair[:, np.arange(self._n), np.arange(self._n)] = 0.0
        force = SENSITIVITY * _MOVES[np.asarray(actions)] + pair.sum(axis=2)
        self.pos = self.pos + self.vel * DT
        self.vel = self.vel * (1 - DAMPING) + force * DT
        self.t += 1
        return self.observe(), self.rewards(), self.t >= self.max_cycles, {}

    def rewards(self) -> np.ndarray:
        to_landmarks = np.linalg.norm(self.pos[:, :, None] - self.landmarks[:, None], axis=-1)
        global_reward = -to_landmarks.min(axis=1).sum(axis=1)  # (B,)
        dist = np.linalg.norm(self.pos[:, :, None] - self.pos[:, None], axis=-1)
        hits = (dist < 2 * SIZE).sum(axis=2) - 1  # minus the agent itself
        return (1 - LOCAL_RATIO) * global_reward[:, None] - LOCAL_RATIO * hits

    def observe(self) -> np.ndarray:
        rel_landmarks = self.landmarks[:, None] - self.pos[:, :, None]  # (B, N, L, 2)
        rel_others = self.pos[:, self._others] - self.pos[:, :, None]  # (B, N, N-1, 2)
        comm = np.zeros((*self.pos.shape[:2], 2 * (self._n - 1)))
        parts = [
            self.vel,
            self.pos,
            rel_landmarks.reshape(*self.pos.shape[:2], -1),
            rel_others.reshape(*self.pos.shape[:2], -1),
            comm,
        ]
        return np.concatenate(parts, axis=-1).astype(np.float32)

    def world_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Agent positions, landmark positions, agent velocities: each (B, N, 2)."""
        return self.pos.copy(), self.landmarks.copy(), self.vel.copy()
