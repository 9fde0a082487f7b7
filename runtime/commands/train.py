"""``otswarm train``: train MAPPO policies offline and evaluate int8 policies (trainer extra).

Its options are the trainer's (``otswarm.trainer.cli``, which declares and reads
them), imported when the parser is built; that module needs no trainer extra."""

from __future__ import annotations

import argparse

from otswarm.errors import OtswarmError

HELP = "train policies offline (harvest, spread) and evaluate them (trainer extra)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from otswarm.trainer.cli import add_train_arguments

    add_train_arguments(parser)


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
