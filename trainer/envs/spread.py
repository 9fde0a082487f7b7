"""PettingZoo MPE2 ``simple_spread_v3`` (N agents must cover N landmarks without
colliding; discrete actions), stepped as a batch of independent parallel envs so
the trainer sees the same (n_envs, n_agents, ...) arrays as for ``harvest``."""

from __future__ import annotations

import numpy as np

ACTION_MEANINGS = ("no-op", "move left", "move right", "move down", "move up")


def observation_names(n_agents: int) -> tuple[str, ...]:
    """MPE2 simple_spread observation layout for one agent, in order."""
    names = ["self_vel_x", "self_vel_y", "self_pos_x", "self_pos_y"]
    names += [f"landmark_{k}_rel_{c}" for k in range(n_agents) for c in "xy"]
    names += [f"other_{k}_rel_{c}" for k in range(n_agents - 1) for c in "xy"]
    names += [f"other_{k}_comm_{c}" for k in range(n_agents - 1) for c in "xy"]
    return tuple(names)


class SpreadBatch:
    """Shape of a batch of ``n_envs`` simple_spread episodes (N agents, N landmarks,
    ``max_cycles`` steps), shared by the MPE2 batch and the NumPy re-implementation."""

    def __init__(self, n_envs: int = 1, n_agents: int = 3, max_cycles: int = 25) -> None:
        self.n_envs, self._n, self.max_cycles = n_envs, n_agents, max_cycles

    @property
    def n_agents(self) -> int:
        return self._n

    @property
    def obs_size(self) -> int:
        return len(observation_names(self._n))

    @property
    def episode_steps(self) -> int:
        return self.max_cycles

    @property
    def n_actions(self) -> int:
        return len(ACTION_MEANINGS)


class VecSpread(SpreadBatch):
    """``n_envs`` copies of ``simple_spread_v3.parallel_env``; episode ``k`` of a
    reset with ``seed`` uses MPE2 seed ``seed + k``."""

    def __init__(self, n_envs: int = 1, n_agents: int = 3, max_cycles: int = 25) -> None:
        from mpe2 import simple_spread_v3

        super().__init__(n_envs, n_agents, max_cycles)
        self.envs = [
            simple_spread_v3.parallel_env(
                N=n_agents, max_cycles=max_cycles, continuous_actions=False
            )
            for _ in range(n_envs)
        ]
        self.names = [f"agent_{i}" for i in range(n_agents)]

    def reset(self, seed: int) -> np.ndarray:
        obs = [env.reset(seed=seed + k)[0] for k, env in enumerate(self.envs)]
        return self._stack(obs)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, dict]:
        obs, rewards, done = [], [], False
        for env, row in zip(self.envs, np.asarray(actions), strict=True):
            o, r, term, trunc, _ = env.step({a: int(row[i]) for i, a in enumerate(self.names)})
            obs.append(o)
            rewards.append([r[a] for a in self.names])
            done = done or any(term.values()) or any(trunc.values())
        return self._stack(obs), np.asarray(rewards), done, {}

    def world_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Agent positions, landmark positions, agent velocities: each (n_envs, N, 2)."""
        worlds = [env.unwrapped.world for env in self.envs]
        agents = np.array([[a.state.p_pos for a in w.agents] for w in worlds])
        velocities = np.array([[a.state.p_vel for a in w.agents] for w in worlds])
        landmarks = np.array([[lm.state.p_pos for lm in w.landmarks] for w in worlds])
        return agents, landmarks, velocities

    def _stack(self, obs: list[dict]) -> np.ndarray:
        return np.array([[o[a] for a in self.names] for o in obs], dtype=np.float32)
