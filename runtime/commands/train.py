"""``otswarm train``: train MAPPO policies offline and evaluate int8 policies (trainer extra)."""

from __future__ import annotations

import argparse

from otswarm.errors import OtswarmError

HELP = "train policies offline (harvest, spread) and evaluate them (trainer extra)"


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


class TrainerMissingError(OtswarmError, ImportError):
    """The trainer extra (TensorFlow, PettingZoo, MPE2) is not installed here."""


# packages of the trainer extra (pyproject.toml) and what they pull in
TRAINER_PACKAGES = {"tensorflow", "keras", "pettingzoo", "mpe2", "gymnasium", "matplotlib"}


def run_trainer(what: str, args: argparse.Namespace) -> int:
    """Call ``otswarm.trainer.cli.<what>(args)``; a missing trainer becomes a typed error."""
    try:
        from otswarm.trainer import cli

        return getattr(cli, what)(args)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in TRAINER_PACKAGES:
            raise
        raise TrainerMissingError(
            f"needs the trainer extra ({exc.name} is missing): pip install 'otswarm[trainer]'"
        ) from exc


def run(args: argparse.Namespace) -> int:
    return run_trainer("run_train", args)
