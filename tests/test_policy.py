"""otswarm.policy: the shipped int8 harvest policy runs in the real LiteRT
interpreter, the observation builder follows the contract, bad cards are refused."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from otswarm.errors import OtswarmError
from otswarm.policy import (
    HARVEST_DUTY_LEVELS,
    HARVEST_OBSERVATION,
    ObservationError,
    Policy,
    PolicyCardError,
    build_observation,
)

MODELS = Path(__file__).resolve().parents[1] / "runtime" / "policy" / "models"
NOON_SUNNY = {
    "battery_soc": 0.8,
    "harvest_w": 18.0,
    "load_w": 4.0,
    "hour_of_day": 12.0,
    "duty": 0.5,
    "received_w": 0.0,
}


def test_shipped_harvest_policy_runs_in_litert():
    policy = Policy.load_default("harvest")
    assert policy.card.observation_names == HARVEST_OBSERVATION
    assert policy.action_values == HARVEST_DUTY_LEVELS
    probs = policy.action_probabilities(build_observation(NOON_SUNNY, policy.card.observation))
    assert probs.shape == (len(HARVEST_DUTY_LEVELS),)
    assert np.all(probs >= 0)
    assert abs(probs.sum() - 1.0) < 1e-9  # renormalised after int8 dequantisation
    batch = np.stack([build_observation({**NOON_SUNNY, "battery_soc": s}) for s in (0.1, 0.5)])
    assert policy.action_probabilities(batch).shape == (2, len(HARVEST_DUTY_LEVELS))
    # a batch row gives the same answer as the single call
    single = policy.action_probabilities(batch[1])
    assert np.array_equal(single, policy.action_probabilities(batch)[1])


def test_every_shipped_policy_loads_and_matches_its_card():
    for name, env, n_obs in (("harvest", "harvest", 7), ("spread", "spread", 18)):
        policy = Policy.load_default(name)
        assert policy.card.env == env and policy.observation_size == n_obs
        probs = policy.action_probabilities(np.zeros(n_obs, dtype=np.float32))
        assert probs.shape == (5,) and abs(probs.sum() - 1.0) < 1e-9
    assert Policy.load_default("spread_mappo").card.training["ppo"]["align"] == 0.0
    assert Policy.load_default("spread").card.training["ppo"]["align"] > 0.0


def test_shipped_harvest_policy_reacts_to_its_battery():
    """Trained behaviour, not a stub: at night an almost empty battery runs a lower
    expected duty than a full one."""
    policy = Policy.load_default("harvest")
    night = {**NOON_SUNNY, "hour_of_day": 23.0, "harvest_w": 0.0}
    duty = np.asarray(policy.action_values)
    empty = policy.action_probabilities(build_observation({**night, "battery_soc": 0.05})) @ duty
    full = policy.action_probabilities(build_observation({**night, "battery_soc": 0.95})) @ duty
    assert empty < full


def test_shipped_harvest_policy_cuts_duty_on_a_low_battery_without_harvest():
    """Fed the contract's units (SoC 0..1, watts), the shipped policy runs duty 0 at
    every hour when the battery is at 5 % or 20 % and the panel gives nothing, even
    coming from duty 1; a board that keeps duty ~1 there is fed something else."""
    policy = Policy.load_default("harvest")
    duty = np.asarray(policy.action_values)
    for soc in (0.05, 0.2):
        for hour in range(24):
            quantities = {**NOON_SUNNY, "battery_soc": soc, "harvest_w": 0.0}
            quantities.update(load_w=6.5, hour_of_day=float(hour), duty=1.0)
            probs = policy.action_probabilities(build_observation(quantities))
            assert duty[int(np.argmax(probs))] == 0.0, (soc, hour, probs)
            # sampled, not greedy: the expected duty stays low too (0.43 at worst, 20 %)
            assert probs @ duty < 0.5, (soc, hour, probs)


def test_observation_builder_follows_the_contract():
    obs = build_observation(NOON_SUNNY)
    assert obs.dtype == np.float32 and obs.shape == (len(HARVEST_OBSERVATION),)
    named = dict(zip(HARVEST_OBSERVATION, obs.tolist(), strict=True))
    assert named["battery_soc"] == pytest.approx((0.8 - 0.5) / 0.5)
    assert named["harvest_w"] == pytest.approx(18.0 / 30.0)
    assert named["time_sin"] == pytest.approx(math.sin(math.pi), abs=1e-6)
    assert named["time_cos"] == pytest.approx(-1.0)
    # midnight and 24:00 are the same time of day
    a = build_observation({**NOON_SUNNY, "hour_of_day": 0.0})
    b = build_observation({**NOON_SUNNY, "hour_of_day": 24.0})
    assert np.allclose(a, b, atol=1e-6)


def test_observation_builder_rejects_missing_or_bad_quantities():
    incomplete = dict(NOON_SUNNY)
    del incomplete["received_w"]
    with pytest.raises(ObservationError, match="received_w"):
        build_observation(incomplete)
    with pytest.raises(ObservationError, match="harvest_w"):
        build_observation({**NOON_SUNNY, "harvest_w": float("nan")})
    policy = Policy.load_default("harvest")
    with pytest.raises(ObservationError, match="shape"):
        policy.action_probabilities(np.zeros(3, dtype=np.float32))


def _copy_with_card(tmp_path: Path, edit) -> Path:
    model = tmp_path / "m.tflite"
    shutil.copy(MODELS / "harvest_int8.tflite", model)
    card = json.loads((MODELS / "harvest_int8.card.json").read_text())
    edit(card)
    (tmp_path / "m.card.json").write_text(json.dumps(card))
    return model


def test_card_with_a_different_observation_layout_is_refused(tmp_path):
    def swap(card):
        obs = card["observation"]
        obs[0], obs[1] = obs[1], obs[0]

    model = _copy_with_card(tmp_path, swap)
    with pytest.raises(PolicyCardError, match="does not match the expected") as err:
        Policy(model, expected_observation=HARVEST_OBSERVATION)
    assert isinstance(err.value, OtswarmError)


def test_card_that_disagrees_with_the_model_is_refused(tmp_path):
    model = _copy_with_card(tmp_path, lambda c: c["observation"].pop())
    with pytest.raises(PolicyCardError, match="model takes 7 inputs, card lists 6"):
        Policy(model)
    model = _copy_with_card(tmp_path, lambda c: c["quantization"]["input"].update(zero_point=3))
    with pytest.raises(PolicyCardError, match=r"quantization\.input"):
        Policy(model)
    model = _copy_with_card(tmp_path, lambda c: c.update(format="something-else"))
    with pytest.raises(PolicyCardError, match="format"):
        Policy(model)


def test_missing_card_or_model_is_a_typed_error(tmp_path):
    model = tmp_path / "alone.tflite"
    shutil.copy(MODELS / "harvest_int8.tflite", model)
    with pytest.raises(PolicyCardError, match="card not found"):
        Policy(model)
    with pytest.raises(PolicyCardError, match="no shipped policy"):
        Policy.load_default("chess")
