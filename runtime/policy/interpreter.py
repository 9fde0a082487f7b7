"""Open a .tflite model with the LiteRT interpreter (``ai-edge-litert``), or with
``tflite_runtime`` on boards that only have that."""

from __future__ import annotations

import logging
from pathlib import Path

from otswarm.policy.errors import PolicyCardError

log = logging.getLogger(__name__)


def open_interpreter(model_path: str | Path, num_threads: int = 1):
    """A ready (tensors allocated) interpreter for ``model_path``."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        log.info("ai_edge_litert not installed; using tflite_runtime")
        from tflite_runtime.interpreter import Interpreter
    model_path = Path(model_path)
    if not model_path.is_file():
        raise PolicyCardError(f"{model_path}: policy model not found")
    try:
        interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
    except ValueError as exc:
        raise PolicyCardError(f"{model_path}: not a loadable .tflite model ({exc})") from exc
    interpreter.allocate_tensors()
    return interpreter
