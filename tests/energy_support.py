"""Shared by the energy tests: a clock the test advances by hand, and the fixtures
folder of meter files written in the boards' real formats."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "energy"


class StepClock:
    """A clock the test advances by hand (s): set ``t``, then call it."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t
