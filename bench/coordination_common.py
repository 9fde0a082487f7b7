"""Shared pieces of the bench_coordination_* scripts (not a benchmark itself)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

LEVELS = np.linspace(0.0, 1.0, 5)  # the harvest policy's duty levels


def machine() -> dict:
    """Load average and core count at the time of measuring (the machine is shared)."""
    return {"loadavg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}


def ring_with_chords(n: int, chords=(-3, -1, 1, 3)) -> tuple[list[str], dict[str, list[str]]]:
    """Agent ids and a sparse connected neighbour graph (ring plus chords)."""
    names = [f"a{i:05d}" for i in range(n)]
    hops = [h for h in chords if h % n]
    return names, {names[i]: sorted({names[(i + h) % n] for h in hops}) for i in range(n)}


def rounds_to(spread, fraction: float) -> int | None:
    """First round whose spread is below ``fraction`` of the initial one."""
    hit = [r for r, s in enumerate(spread) if s <= fraction * spread[0]]
    return hit[0] if hit else None


def timed(fn, *args, **kwargs):
    """``(result, wall seconds)``."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start
