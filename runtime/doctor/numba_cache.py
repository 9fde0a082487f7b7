"""The Numba cache check of ``otswarm doctor``: will the agent compile when it starts?

Numba keeps, per ``@njit(cache=True)`` function, an index file stamped with the
source file's modification time and size; an index that is missing or stale
means the next call compiles. Reading it compiles nothing.

Which kernels count: the ones :func:`otswarm.ot.warmup` runs by default, which are
the ones the agent calls (the batch, barycenter and divergence kernels are left
out unless ``warmup("all")``). They are found by running that warmup in a child
process with ``NUMBA_DISABLE_JIT=1`` (every kernel runs as plain Python: nothing
compiles) and noting each function called. Helpers declared ``inline="always"``
are compiled into their callers and never get a cache entry of their own: they
are not counted either.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

from otswarm.doctor.checks import Finding
from otswarm.errors import OtswarmError

_TRACE = """
import json, sys
import otswarm.ot
called = set()
def note(frame, event, arg):
    name = frame.f_globals.get("__name__") or ""
    if event == "call" and name.startswith("otswarm.ot"):
        called.add((name, frame.f_code.co_name))
sys.setprofile(note)
otswarm.ot.warmup()
sys.setprofile(None)
print(json.dumps(sorted(called)))
"""


class WarmupTraceError(OtswarmError, RuntimeError):
    """The child process that traces ``warmup()`` failed; the message has its stderr."""


def warmup_functions(timeout_s: float = 600.0) -> set[tuple[str, str]]:
    """``(module, function name)`` of every Python function that ``warmup()`` runs."""
    done = subprocess.run(
        [sys.executable, "-c", _TRACE],
        env={**os.environ, "NUMBA_DISABLE_JIT": "1"},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        raise WarmupTraceError(f"Numba cache: tracing warmup() failed: {done.stderr[-500:]}")
    return {tuple(pair) for pair in json.loads(done.stdout.strip().splitlines()[-1])}


def ot_kernels() -> list:
    """Every Numba dispatcher of ``otswarm.ot`` but the always-inlined helpers."""
    from numba.core.registry import CPUDispatcher

    import otswarm.ot

    found = {}
    for info in pkgutil.iter_modules(otswarm.ot.__path__, "otswarm.ot."):
        module = importlib.import_module(info.name)
        found |= {id(v): v for v in vars(module).values() if isinstance(v, CPUDispatcher)}
    return [k for k in found.values() if k.targetoptions.get("inline") != "always"]


def _name(dispatcher) -> tuple[str, str]:
    return dispatcher.py_func.__module__, dispatcher.py_func.__name__


def check_numba_cache() -> Finding:
    """Every kernel the agent runs has a fresh entry in Numba's cache index."""
    import otswarm.ot

    kernels = ot_kernels()
    if not kernels:
        return Finding("Numba cache", "warn", "no compiled kernels found in otswarm.ot")
    called = warmup_functions()
    needed = [k for k in kernels if _name(k) in called]
    cold = [k for k in needed if not _has_fresh_cache(k)]
    others = [k for k in kernels if k not in needed and not _has_fresh_cache(k)]
    where = os.environ.get("NUMBA_CACHE_DIR") or str(
        Path(otswarm.ot.__file__).parent / "__pycache__"
    )
    if cold:
        return Finding(
            "Numba cache",
            "warn",
            f"cold: {len(cold)} of the agent's {len(needed)} kernels not cached; run "
            "python -c 'import otswarm.ot; otswarm.ot.warmup()' (docs/deploy.md)",
        )
    rest = f"; {len(others)} more, not run by the agent, are not" if others else ""
    return Finding(
        "Numba cache", "ok", f"warm: the agent's {len(needed)} kernels cached in {where}{rest}"
    )


def _has_fresh_cache(dispatcher) -> bool:
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is None:
        return False
    try:
        return bool(cache_file._load_index())
    except Exception:  # an unreadable index is a cold cache, not a doctor crash
        return False
