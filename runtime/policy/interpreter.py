"""Open a .tflite model with the LiteRT interpreter (``ai-edge-litert``), or with
``tflite_runtime`` on boards that only have that.

LiteRT's C++ writes ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``
straight to file descriptor 2 when it first allocates tensors; no environment
variable turns it off. :func:`native_stderr_to_log` catches what native code writes
there meanwhile and logs it instead: ``INFO:`` lines at debug level (shown with
``otswarm -v``), anything else as a warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from otswarm.policy.errors import PolicyCardError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Point fd 2 at a temporary file for the block, then log what landed there.

    The redirection is process-wide: a line another thread writes to stderr in
    that moment (milliseconds) is logged the same way, not lost."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                level = logging.DEBUG if line.startswith("INFO: ") else logging.WARNING
                log.log(level, "LiteRT: %s", line)


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
    with native_stderr_to_log():
        try:
            interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        except ValueError as exc:
            raise PolicyCardError(f"{model_path}: not a loadable .tflite model ({exc})") from exc
        interpreter.allocate_tensors()
    return interpreter
