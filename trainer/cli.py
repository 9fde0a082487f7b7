"""What ``otswarm train`` and ``otswarm export`` do (runtime/commands/ only parses)."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path

from otswarm.errors import OtswarmError

log = logging.getLogger(__name__)


class TrainerError(OtswarmError, ValueError):
    """A trainer argument is wrong; the message names it."""


def command_line() -> str:
    """This process's command line as ``otswarm ...`` (recorded in model cards)."""
    return "otswarm " + shlex.join(sys.argv[1:])


def run_train(args) -> int:
    if args.train_command == "eval":
        return run_eval(args)
    if args.train_command == "ablation":
        from otswarm.trainer.ablation import run_ablation

        return run_ablation(args)
    return _train(args)


def ppo_config(args, **overrides):
    """The PPO settings given on the command line (``overrides`` win)."""
    from otswarm.trainer.mappo import PPOConfig

    options = {
        "align": args.align,
        "drift_lr": args.drift_lr,
        "centralised": not args.ippo,
        "lr": args.lr,
        "entropy": args.entropy,
        "epochs": args.epochs,
        "minibatches": args.minibatches,
        "time_in_state": args.time_in_state,
        "team_reward": args.team_reward,
        "quantization_aware": args.quantization_aware,
    }
    return PPOConfig(**{**options, **overrides})


def _train(args) -> int:
    from otswarm.trainer.pipeline import train_and_ship
    from otswarm.trainer.train import TrainConfig

    env = args.train_command
    config = TrainConfig(
        env=env,
        seed=args.seed,
        iterations=args.iterations,
        n_envs=args.n_envs,
        ppo=ppo_config(args),
    )
    out = Path(args.out or f"runs/{env}-seed{args.seed}")
    model_out = Path(args.model_out or out / f"{env}_int8.tflite")
    card = train_and_ship(config, out, model_out, args.eval_episodes, not args.no_progress)
    r = card.returns
    print(
        f"{env}: float return {r['float']['mean_return']:.2f}, "
        f"int8 {r['int8']['mean_return']:.2f}, "
        f"agreement {r['int8_float_action_agreement']:.4f}; wrote {model_out} and {out}/"
    )
    return 0


def _act_fn(args):
    from otswarm.trainer import baselines
    from otswarm.trainer.envs.registry import make_vec_env
    from otswarm.trainer.evaluate import greedy_keras, greedy_tflite

    if args.policy:
        path = Path(args.policy)
        if path.suffix == ".keras":
            from otswarm.trainer.networks import load_actor

            if not path.exists():
                raise TrainerError(f"--policy {path}: no such file")
            return greedy_keras(load_actor(path)), str(path)
        from otswarm.policy import Policy

        return greedy_tflite(Policy(path)), str(path)
    name = args.baseline
    if name == "random":
        return baselines.random_policy(make_vec_env(args.env, 1).n_actions, args.seed), name
    if name == "ot-assignment" and args.env == "spread":
        return baselines.ot_assignment_policy(), name
    if name.startswith("duty-") and args.env == "harvest" and name[5:].isdigit():
        return baselines.constant_duty_policy(int(name[5:])), name
    raise TrainerError(
        f"--baseline {name!r} for {args.env}: "
        "use random, ot-assignment (spread) or duty-K (harvest)"
    )


def run_eval(args) -> int:
    from otswarm.trainer.evaluate import evaluate

    act, name = _act_fn(args)
    result = {"policy": name, **evaluate(args.env, act, args.episodes, args.seed)}
    text = json.dumps(result, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0


def run_export(args) -> int:
    from otswarm.trainer.networks import load_actor
    from otswarm.trainer.pipeline import ship

    path = Path(args.model)
    if not path.exists():
        raise TrainerError(f"{path}: no such actor model")
    actor = load_actor(path)
    training = {"exported_from": str(path), "command": command_line()}
    card = ship(actor, args.env, Path(args.out), training, args.seed, args.eval_episodes)
    print(f"wrote {args.out}; agreement {card.returns['int8_float_action_agreement']:.4f}")
    return 0
