"""Run allocation rounds the way the agent loop does: decide, move, publish.

``battery`` (a simulated MCU battery, ``transfer(J) -> J``) moves the energy; without
one, what was decided is taken as moved. Returns the decision and the joules given
and taken in, which is what the agent would book.
"""

from __future__ import annotations

from dataclasses import dataclass

from otswarm.coordination.rounds import Allocation, AllocationRound


@dataclass(frozen=True)
class Moved:
    allocation: Allocation
    given_j: float
    taken_j: float


def run_round(allocation: AllocationRound, r: int, supply_j: float, demand_j: float,
              battery=None) -> Moved:  # fmt: skip
    decided = allocation.decide(r, supply_j, demand_j)
    given = taken = 0.0
    if decided.send is not None:
        asked = decided.send.joules
        given = asked if battery is None else -battery.transfer(-asked)
    if decided.receive is not None:
        asked = decided.receive.delivered_j
        taken = asked if battery is None else battery.transfer(asked)
    allocation.publish(decided, given)
    return Moved(decided, given, taken)
