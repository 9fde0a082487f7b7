"""A battery with a capacity and charge/discharge efficiencies."""

from .config import SimulatorConfig


class Battery:
    """Stored energy ``E`` in joules, 0 <= E <= capacity.

    Over ``dt`` seconds with net power ``p = harvest − load`` (W): charging
    stores ``η_c · p · dt``, discharging removes ``p · dt / η_d`` (the battery
    gives more than the load receives). ``E`` is clipped to 0..capacity; the
    clipped part is wasted (full) or not delivered (empty).
    """

    def __init__(self, config: SimulatorConfig):
        self.capacity_j = config.battery_capacity_j
        self.charge_efficiency = config.charge_efficiency
        self.discharge_efficiency = config.discharge_efficiency
        self.energy_j = min(max(config.initial_soc, 0.0), 1.0) * self.capacity_j

    @property
    def soc(self) -> float:
        """State of charge, 0..1."""
        return self.energy_j / self.capacity_j

    def step(self, net_power_w: float, dt_s: float) -> None:
        """Integrate ``net_power_w`` (harvest − load, W) over ``dt_s`` seconds."""
        if net_power_w >= 0:
            delta = self.charge_efficiency * net_power_w * dt_s
        else:
            delta = net_power_w * dt_s / self.discharge_efficiency
        self.energy_j = min(max(self.energy_j + delta, 0.0), self.capacity_j)

    def transfer(self, joules: float) -> float:
        """Add ``joules`` (negative: remove) as stored energy; return what moved.

        An energy-sharing transfer arrives as stored joules (the allocator books
        line losses); it is clipped to the room left or the energy held.
        """
        before = self.energy_j
        self.energy_j = min(max(before + joules, 0.0), self.capacity_j)
        return self.energy_j - before
