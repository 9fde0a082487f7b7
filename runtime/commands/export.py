"""``otswarm export``: int8 TFLite export of a trained Keras actor, with its card."""

from __future__ import annotations

import argparse

HELP = "export a trained actor (.keras) to a full-integer int8 .tflite plus card (trainer extra)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the float actor, e.g. runs/harvest-seed0/actor.keras")
    parser.add_argument("--env", choices=("harvest", "spread"), required=True)
    parser.add_argument("--out", required=True, help="the .tflite to write (card goes next to it)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the calibration rollouts")
    parser.add_argument("--eval-episodes", type=int, default=100, help="episodes for the card")


def run(args: argparse.Namespace) -> int:
    from otswarm.commands.train import run_trainer

    return run_trainer("run_export", args)
