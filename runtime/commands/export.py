"""``otswarm export``: int8 TFLite export of a trained Keras actor, with its card.

Its options are the trainer's (``otswarm.trainer.cli``), imported when the
parser is built."""

from __future__ import annotations

import argparse

HELP = "export a trained actor (.keras) to a full-integer int8 .tflite plus card (trainer extra)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from otswarm.trainer.cli import add_export_arguments

    add_export_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from otswarm.commands.train import run_trainer

    return run_trainer("run_export", args)
