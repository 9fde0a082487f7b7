"""What this agent offers to the swarm's energy allocation each round.

The offer is in joules of stored battery energy, ``E = soc * capacity`` with the
battery's capacity as the board knows it (``Reading.battery_capacity_j``: the
configured capacity, else learned from the telemetry; never derived from the
state of charge of this very reading, which is 0 for an empty battery): the energy
above ``share_above_soc`` is supply, the energy missing below ``ask_below_soc``
is demand, each at most ``transfer_max_w * dt``, where ``dt`` is the MCU-clock
length of the last round (a simulated board whose clock runs faster than the
wall clock moves energy at its own pace). Between the two thresholds a board
neither gives nor asks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OfferPolicy:
    """SoC thresholds (0..1) and the transfer power limit (W) of one board."""

    share_above_soc: float = 0.6
    ask_below_soc: float = 0.4
    transfer_max_w: float = 2.0

    def supply_demand(self, reading, round_s: float) -> tuple[float, float]:
        """``(supply_j, demand_j)`` for a board in state ``reading`` over ``round_s`` MCU s."""
        soc = reading.battery_soc
        capacity = reading.battery_capacity_j
        cap = self.transfer_max_w * max(round_s, 0.0)
        supply = min(max(0.0, soc - self.share_above_soc) * capacity, cap)
        demand = min(max(0.0, self.ask_below_soc - soc) * capacity, cap)
        return supply, demand
