"""``otswarm train`` and ``otswarm export``: their options and what they do.

The one place the trainer's command-line options are declared and read;
``runtime/commands/train.py`` and ``export.py`` import this module only when
the parser is built or the command runs. Nothing in the trainer imports it.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from otswarm.errors import OtswarmError

log = logging.getLogger(__name__)


class TrainerError(OtswarmError, ValueError):
    """A trainer argument is wrong; the message names it."""


def _add_training(parser: argparse.ArgumentParser, iterations: int, n_envs: int) -> None:
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--iterations", type=int, default=iterations, help="PPO iterations")
    parser.add_argument("--n-envs", type=int, default=n_envs, help="episodes per iteration")
    parser.add_argument("--align", type=float, default=0.0, help="weight of the W1 alignment term")
    parser.add_argument("--drift-lr", action="store_true", help="drift-modulated learning rate")
    parser.add_argument("--ippo", action="store_true", help="independent critics (IPPO)")
    parser.add_argument("--time-in-state", action="store_true", help="critic sees t / T")
    parser.add_argument("--team-reward", action="store_true", help="learn from the agents' mean")
    parser.add_argument("--lr", type=float, default=3e-4, help="actor learning rate")
    parser.add_argument("--entropy", type=float, default=0.01, help="entropy bonus weight")
    parser.add_argument("--epochs", type=int, default=4, help="PPO epochs per iteration")
    parser.add_argument("--minibatches", type=int, default=4, help="minibatches per epoch")
    parser.add_argument(
        "--quantization-aware",
        action="store_true",
        help="train the actor with its int8 export simulated (fake quantisation)",
    )
    parser.add_argument("--out", help="run directory (default runs/ENV-seedS)")
    parser.add_argument("--model-out", help="int8 .tflite path (default OUT/ENV_int8.tflite)")
    parser.add_argument("--eval-episodes", type=int, default=100, help="episodes for the card")
    parser.add_argument("--no-progress", action="store_true", help="log lines instead of a bar")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``otswarm train WHAT``."""
    sub = parser.add_subparsers(dest="train_command", metavar="WHAT", required=True)
    _add_training(sub.add_parser("harvest", help="the energy-harvesting swarm"), 150, 16)
    _add_training(sub.add_parser("spread", help="MPE2 simple_spread_v3, N=3"), 600, 32)
    ab = sub.add_parser("ablation", help="one ablation row: a variant over several seeds")
    _add_training(ab, 150, 16)
    ab.add_argument("--env", dest="train_command_env", choices=("harvest", "spread"), required=True)
    ab.add_argument("--variant", choices=("baseline", "align", "drift", "both"), required=True)
    ab.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ab.add_argument("--json", help="write the row here")
    ab.set_defaults(align=0.2)  # the +alignment weight of the ablation
    ev = sub.add_parser("eval", help="evaluate a policy or a baseline on seeded episodes")
    ev.add_argument("--env", choices=("harvest", "spread"), required=True)
    who = ev.add_mutually_exclusive_group(required=True)
    who.add_argument("--policy", help="FILE.tflite (int8, LiteRT) or FILE.keras (float)")
    who.add_argument("--baseline", help="random | ot-assignment (spread) | duty-K (harvest)")
    ev.add_argument("--episodes", type=int, default=200)
    ev.add_argument("--seed", type=int, default=0, help="episode k uses env seed SEED + k")
    ev.add_argument("--json", help="write the result here")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``otswarm export``."""
    parser.add_argument("model", help="the float actor, e.g. runs/harvest-seed0/actor.keras")
    parser.add_argument("--env", choices=("harvest", "spread"), required=True)
    parser.add_argument("--out", required=True, help="the .tflite to write (card goes next to it)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the calibration rollouts")
    parser.add_argument("--eval-episodes", type=int, default=100, help="episodes for the card")


def command_line() -> str:
    """This process's command line as ``otswarm ...`` (recorded in model cards)."""
    return "otswarm " + shlex.join(sys.argv[1:])


def run_train(args) -> int:
    if args.train_command == "eval":
        return run_eval(args)
    if args.train_command == "ablation":
        return run_ablation(args)
    return _train(args)


def run_ablation(args) -> int:
    from otswarm.trainer.ablation import ablation_row, print_row

    row = ablation_row(
        args.train_command_env,
        args.variant,
        args.seeds,
        ppo_config(args),
        iterations=args.iterations,
        n_envs=args.n_envs,
        eval_episodes=args.eval_episodes,
        out_root=Path(args.out or "runs"),
        command=command_line(),
    )
    print_row(row)
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=1) + "\n")
    return 0


def ppo_config(args):
    """The PPO settings given on the command line."""
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
    return PPOConfig(**options)


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
    card = train_and_ship(
        config, out, model_out, args.eval_episodes, command_line(), not args.no_progress
    )
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
