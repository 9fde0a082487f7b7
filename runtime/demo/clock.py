"""One clock for the demo's energy figures: the simulated boards' own clock.

The simulated MCUs run their battery, harvester and transfers ``a`` times faster
than the wall clock (``DemoSettings.acceleration`` board seconds per wall
second), so the joules they move (``energy_in``/``energy_out``) are board-clock
joules. Each agent's ledger books ``idle`` as ``idle_w x`` wall seconds. The
report puts ``idle`` on the board clock too:

    E_idle,board = sum over idle entries of  J_e * a * |[t0, t1] ∩ [t_up, ∞)| / (t1 - t0)

(``J_e = idle_w (t1 - t0)``: the same power over the board seconds that passed),
where ``t_up`` is when the boards powered up: before it the board clock had not
started, and the idle an agent booked while it started (wall J) is reported on
its own, not added. The other spent components (``ot``, ``policy``, radio,
serial) are priced per piece of work (CPU seconds of a solve, bytes of a
message), the same on any clock, so the per-agent total is one clock's joules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from otswarm.energy.store import Entry


@dataclass(frozen=True)
class BoardClock:
    """The simulated boards' clock: ``board_s_per_wall_s`` from Unix time ``powered_up_at``."""

    board_s_per_wall_s: float
    powered_up_at: float

    def idle_j(self, entries: Iterable[Entry]) -> tuple[float, float]:
        """``(idle J on the board clock, idle J booked before power-up on the wall clock)``."""
        board = before = 0.0
        for entry in entries:
            span = entry.t1 - entry.t0
            if span <= 0:
                continue
            after = max(0.0, entry.t1 - max(entry.t0, self.powered_up_at))
            share = after / span
            board += entry.joules * share * self.board_s_per_wall_s
            before += entry.joules * (1.0 - share)
        return board, before

    def describe(self) -> dict:
        """What ``report.json`` says about the clock of its energy figures."""
        return {
            "name": "board",
            "board_s_per_wall_s": self.board_s_per_wall_s,
            "powered_up_at": self.powered_up_at,
            "meaning": (
                "every energy_j figure is in joules on the simulated boards' clock: "
                "energy_in/energy_out as the MCUs moved them, idle = ledger idle x "
                f"{self.board_s_per_wall_s:g} from power-up on (idle_before_boards_j: "
                "the wall-clock idle booked while the agent started, not counted); "
                "ot, policy, radio and serial are per piece of work, the same on any clock"
            ),
        }
