"""int8 export: a tiny training run exports and loads in LiteRT; the shipped
harvest policy agrees with its float twin; the eval command works end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from otswarm.policy import Policy
from otswarm.trainer.baselines import ot_assignment_policy, random_policy
from otswarm.trainer.evaluate import evaluate, greedy_keras, greedy_tflite
from otswarm.trainer.mappo import PPOConfig
from otswarm.trainer.networks import load_actor
from otswarm.trainer.pipeline import agreement, rollout_observations, ship
from otswarm.trainer.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
FLOAT_TWIN = ROOT / "trainer" / "models" / "harvest_actor.keras"


def test_tiny_run_exports_an_int8_model_litert_loads(tmp_path):
    config = TrainConfig(
        env="harvest", iterations=2, n_envs=2, ppo=PPOConfig(align=0.1, drift_lr=True)
    )
    result = train(config, tmp_path / "run", show_progress=False)
    assert (tmp_path / "run" / "metrics.csv").exists() and (
        tmp_path / "run" / "training.png"
    ).exists()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(metrics["iterations"]) == 2 and metrics["iterations"][1]["w1_align"] >= 0
    model = tmp_path / "tiny_int8.tflite"
    card = ship(result.actor, "harvest", model, config.to_json(), seed=0, eval_episodes=2)
    policy = Policy(model)
    assert policy.card.quantization["input"]["dtype"] == "int8"
    assert card.returns["float"]["episodes"] == 2 and card.training["ppo"]["align"] == 0.1
    states = rollout_observations("harvest", result.actor, seed=99, episodes=2)
    assert_dense_weights_per_channel(model)
    # int8 probabilities: output step 1/256 plus calibration error of the hidden layers
    assert np.abs(policy.action_probabilities(states) - result.actor(states).numpy()).max() < 0.05


def assert_dense_weights_per_channel(model: Path, per_channel: bool = True) -> None:
    """Every FULLY_CONNECTED weight is int8 with one scale per output unit (TF 2.21's
    default after calibration; per-tensor scales cost 0.6-0.8 points of agreement on
    a calibrated spread model) or, for a quantisation-aware model, one scale per tensor
    (the simulated grid; the converter cannot keep a per-channel fake quantisation)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    dense = [op for op in interpreter._get_ops_details() if op["op_name"] == "FULLY_CONNECTED"]
    assert dense, model
    for op in dense:
        weights = tensors[op["inputs"][1]]
        assert weights["dtype"] == np.int8
        scales = len(weights["quantization_parameters"]["scales"])
        assert scales == (weights["shape"][0] if per_channel else 1), model


def test_shipped_policies_quantise_dense_weights_as_their_training_simulated():
    for model in sorted((ROOT / "runtime" / "policy" / "models").glob("*.tflite")):
        quantization_aware = Policy(model).card.training["ppo"].get("quantization_aware", False)
        assert_dense_weights_per_channel(model, per_channel=not quantization_aware)


def test_shipped_harvest_int8_agrees_with_its_float_twin():
    actor = load_actor(FLOAT_TWIN)
    policy = Policy.load_default("harvest")
    held_out = rollout_observations("harvest", actor, seed=9_000_000, episodes=8)
    assert agreement(actor, policy, held_out) >= 0.99  # the bar
    float_return = evaluate("harvest", greedy_keras(actor), 40, seed=500)["mean_return"]
    int8_return = evaluate("harvest", greedy_tflite(policy), 40, seed=500)["mean_return"]
    assert int8_return == pytest.approx(float_return, rel=0.02)  # the bar


def test_eval_command_writes_the_same_figures_as_the_library(tmp_path):
    out = tmp_path / "eval.json"
    policy = ROOT / "runtime" / "policy" / "models" / "harvest_int8.tflite"
    command = [
        sys.executable,
        "-m",
        "otswarm.cli",
        "train",
        "eval",
        "--env",
        "harvest",
        "--policy",
        str(policy),
        "--episodes",
        "4",
        "--seed",
        "7",
        "--json",
        str(out),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    written = json.loads(out.read_text())
    expected = evaluate("harvest", greedy_tflite(Policy(policy)), 4, seed=7)
    assert written["mean_return"] == pytest.approx(expected["mean_return"], rel=1e-12)
    assert {"work_done", "downtime_h", "waste_wh", "energy_neutral_deviation"} <= set(written)
    bad = subprocess.run(
        [*command[:7], "--baseline", "chess", "--episodes", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert bad.returncode == 1 and "--baseline 'chess'" in bad.stderr


def test_shipped_spread_policy_closes_most_of_the_gap_on_mpe2():
    """On episodes 300..339 of the real MPE2 env, the shipped int8 policy closes at
    least 70 % of the gap between random and the OT-assignment heuristic."""
    seed, n = 300, 40
    heuristic = evaluate("spread", ot_assignment_policy(), n, seed)["mean_return"]
    rand = evaluate("spread", random_policy(5, 0), n, seed)["mean_return"]
    policy = Policy.load_default("spread")
    int8 = evaluate("spread", greedy_tflite(policy), n, seed)["mean_return"]
    assert heuristic > rand + 20  # over 200 episodes: -23 against -82
    assert (int8 - rand) / (heuristic - rand) >= 0.7
    actor = load_actor(ROOT / "trainer" / "models" / "spread_actor.keras")
    float_return = evaluate("spread", greedy_keras(actor), n, seed)["mean_return"]
    assert int8 == pytest.approx(float_return, rel=0.02)  # the bar
    held_out = rollout_observations("spread", actor, seed=9_000_000, episodes=8)
    # the float actor was trained quantisation-aware (otswarm.trainer.quantization)
    assert agreement(actor, policy, held_out) >= 0.99  # the bar


def test_train_without_the_trainer_extra_says_what_to_install(tmp_path):
    """A machine without TensorFlow (simulated by a package that fails to import
    the way a missing one does) gets a one-line typed error, not a traceback."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'tensorflow'\", name='tensorflow')\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-m", "otswarm.cli", "train", "harvest", "--iterations", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 1
    assert "pip install 'otswarm[trainer]'" in done.stderr and "Traceback" not in done.stderr


def test_ablation_command_writes_one_row_over_its_seeds(tmp_path):
    """``otswarm train ablation``: each seed trains, exports and is evaluated float and
    int8; the row holds per-seed figures, their mean and sd, and the agreement."""
    from otswarm.cli import main

    out = tmp_path / "row.json"
    argv = ["train", "ablation", "--env", "harvest", "--variant", "both", "--seeds", "0", "1"]
    argv += ["--iterations", "1", "--n-envs", "2", "--eval-episodes", "2"]
    argv += ["--quantization-aware", "--out", str(tmp_path), "--json", str(out)]
    assert main(argv) == 0
    row = json.loads(out.read_text())
    assert row["ppo"]["align"] == 0.2 and row["ppo"]["drift_lr"] is True
    assert row["ppo"]["quantization_aware"] is True
    assert [s["seed"] for s in row["per_seed"]] == [0, 1]
    returns = [s["float"]["mean_return"] for s in row["per_seed"]]
    assert row["float_mean_return"]["mean"] == pytest.approx(np.mean(returns))
    assert all(0.0 <= s["int8_float_action_agreement"] <= 1.0 for s in row["per_seed"])
    assert (tmp_path / "harvest-both-seed1" / "harvest_int8.tflite").exists()


def test_training_in_a_process_that_already_ran_tensorflow_warns_and_goes_on(caplog):
    """TensorFlow's thread pools are fixed once it has run an op (as in this session)."""
    from otswarm.trainer.pipeline import use_one_thread

    tf.constant(1.0) + 1.0  # initialise TensorFlow, as any earlier test or notebook cell does
    with caplog.at_level("WARNING", logger="otswarm.trainer.pipeline"):
        use_one_thread(tf)
    assert "already initialised" in caplog.text
