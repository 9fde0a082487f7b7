"""otswarm.trainer.envs: the harvest swarm (PettingZoo API, determinism, energy books),
the OT energy-sharing step against POT, and the MPE2 simple_spread wrapper."""

from __future__ import annotations

import numpy as np
import ot
from pettingzoo.test import parallel_api_test

from otswarm.ot import sinkhorn_unbalanced
from otswarm.trainer.envs.harvest import HarvestConfig, HarvestParallelEnv, VecHarvest
from otswarm.trainer.envs.sharing import share_energy, unbalanced_plans
from otswarm.trainer.envs.spread import VecSpread, observation_names
from otswarm.trainer.envs.spread_numpy import VecSpreadNumpy


def _episode(env, seed: int, actions_seed: int):
    rng = np.random.default_rng(actions_seed)
    obs, done, trace = env.reset(seed), False, []
    while not done:
        obs, rewards, done, info = env.step(
            rng.integers(0, env.n_actions, (env.n_envs, env.n_agents))
        )
        trace.append((obs, rewards, info))
    return trace


def test_harvest_passes_the_pettingzoo_parallel_api_test():
    parallel_api_test(HarvestParallelEnv(), num_cycles=120)


def test_harvest_is_deterministic_and_episode_k_uses_seed_plus_k():
    a = _episode(VecHarvest(3), seed=11, actions_seed=1)
    b = _episode(VecHarvest(3), seed=11, actions_seed=1)
    for (oa, ra, _), (ob, rb, _) in zip(a, b, strict=True):
        assert np.array_equal(oa, ob) and np.array_equal(ra, rb)
    # the middle episode of a 3-swarm batch (seed 12) equals a lone swarm seeded 12
    env, lone = VecHarvest(3), VecHarvest(1)
    env.reset(11), lone.reset(12)
    rng = np.random.default_rng(2)
    for _ in range(HarvestConfig().steps):
        act = rng.integers(0, 5, (3, 4))
        o3, r3, _, _ = env.step(act)
        o1, r1, _, _ = lone.step(act[1:2])
        assert np.array_equal(o3[1], o1[0]) and np.array_equal(r3[1], r1[0])


def test_harvest_energy_books_balance():
    """Battery charge stays in [0, 1]; sharing never creates energy."""
    env = VecHarvest(8)
    for _, _, info in _episode(env, seed=3, actions_seed=4):
        assert np.all((env.soc >= 0) & (env.soc <= 1))
        assert np.all(info["down_h"] >= 0) and np.all(info["waste_wh"] >= 0)
    assert env.t == HarvestConfig().steps
    # heterogeneous panels: the 30 W agent harvests more than the 10 W agent at noon
    env.reset(0)
    power = np.array([env.harvest_w(t) for t in range(48)]).sum(axis=(0, 1))
    assert power[3] > power[0] > 0


def test_sharing_respects_offers_and_requests_and_loses_on_the_line():
    rng = np.random.default_rng(0)
    supply = rng.uniform(0, 5, (6, 4)) * (rng.random((6, 4)) < 0.5)
    demand = rng.uniform(0, 5, (6, 4)) * (supply == 0)
    eta = HarvestConfig().line_efficiency()
    sent, received = share_energy(supply, demand, eta)
    assert np.all(sent <= supply + 1e-9) and np.all(received <= demand + 1e-9)
    assert np.all(received.sum(axis=1) <= sent.sum(axis=1) * eta.max() + 1e-9)
    assert received.sum() > 0  # energy does move when someone offers and someone asks


def test_unbalanced_plans_match_pot():
    rng = np.random.default_rng(1)
    a, b, M = rng.random(4), rng.random(4), rng.random((4, 4))
    ours = unbalanced_plans(a[None], b[None], M, 0.05, 1.0, n_iter=3000)[0]
    ref = ot.unbalanced.sinkhorn_unbalanced(
        a, b, M, 0.05, 1.0, reg_type="entropy", numItermax=10000, stopThr=1e-14
    )
    assert np.allclose(ours, ref, atol=1e-9)  # same fixed point, both converged
    board = sinkhorn_unbalanced(a, b, M, 0.05, 1.0, reg_type="entropy", tol=1e-13, max_iter=10**5)
    assert np.allclose(ours, board.plan, atol=1e-9)  # the kernel the boards run
    # the environment's 200 iterations are converged to well below a milliwatt-hour
    env_plan = unbalanced_plans(a[None], b[None], M, 0.05, 1.0)[0]
    assert np.allclose(env_plan, board.plan, atol=1e-8)


def test_spread_wrapper_is_seeded_and_matches_the_mpe2_layout():
    env = VecSpread(2)
    first = env.reset(5)
    assert first.shape == (2, 3, len(observation_names(3))) == (2, 3, 18)
    again = VecSpread(1).reset(6)
    assert np.array_equal(first[1], again[0])  # episode k uses seed + k
    agents, landmarks, _ = env.world_state()
    # observation: own position at 2:4, landmark 0 relative position at 4:6
    assert np.allclose(first[:, :, 2:4], agents, atol=1e-6)
    assert np.allclose(first[:, :, 4:6], landmarks[:, :1] - agents, atol=1e-6)


def test_numpy_spread_steps_exactly_like_mpe2_including_collisions():
    real, fast = VecSpread(3), VecSpreadNumpy(3)
    real.reset(21)
    # env 0 as MPE2 drew it; envs 1 and 2 start with the agents overlapping
    crowd = np.array([[0.0, 0.0], [0.1, 0.05], [-0.05, 0.12]])
    for k in (1, 2):
        for i, agent in enumerate(real.envs[k].unwrapped.world.agents):
            agent.state.p_pos = crowd[i] + 0.3 * k
    agents, landmarks, _ = real.world_state()
    fast.start(agents, landmarks)
    rng = np.random.default_rng(0)
    collided = False
    for _ in range(25):
        actions = rng.integers(0, 5, (3, 3))
        o_real, r_real, d_real, _ = real.step(actions)
        o_fast, r_fast, d_fast, _ = fast.step(actions)
        # same formulas; only summation order of the contact forces may differ
        assert np.allclose(o_real, o_fast, atol=1e-5)
        assert np.allclose(r_real, r_fast, atol=1e-9)
        gaps = np.linalg.norm(fast.pos[1:, :, None] - fast.pos[1:, None], axis=-1)
        collided = collided or bool((gaps[:, 0, 1:] < 0.3).any())
    assert d_real and d_fast
    assert collided  # the contact forces and collision penalties were exercised
