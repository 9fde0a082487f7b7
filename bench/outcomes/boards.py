"""Glue around the simulated MCU's models: a fleet of panels and batteries with books.

Each board has the simulator's ``SolarHarvester`` and ``Battery``
(``otswarm.firmware_bridge.simulator``). Over a step of ``dt`` s with harvest
``H`` and load demand ``L`` (W), a board that is up

- runs fully on the panel when ``L <= H``: ``eta_c (H - L) dt`` is stored, what does
  not fit is *spilled*, ``(1 - eta_c)`` of what is accepted is conversion loss;
- draws ``(L - H) dt / eta_d`` from the battery otherwise; when the battery holds
  less, it empties, the load runs for the fraction ``f`` of the step the energy
  covers, and the board goes *down* (brown-out).

A board that is down draws nothing (all harvest goes to charging) and boots again
once its charge reaches ``restart_soc``. Energy-sharing transfers go through
``Battery.transfer`` (clipped to what the sender holds and the room the receiver
has; a clipped arrival is spilled). The books always balance, per board and for
the swarm:

    harvest + received - sent = delta stored + used + spilled + conversion lost
    sum(sent - received) = transfer lost          (so, swarm-wide:)
    harvest = delta stored + used + spilled + conversion lost + transfer lost
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from otswarm.firmware_bridge.simulator.battery import Battery
from otswarm.firmware_bridge.simulator.solar import SolarHarvester

from .scenario import Draw


@dataclass
class Books:
    """Swarm-wide energy books, J."""

    harvest: float = 0.0
    used: float = 0.0
    spilled: float = 0.0
    conversion_lost: float = 0.0
    transfer_lost: float = 0.0
    sent: float = 0.0
    received: float = 0.0


class Fleet:
    """The boards of one draw, advanced together in board time."""

    def __init__(self, drawn: Draw, restart_soc: float):
        self.draw = drawn
        self.restart_soc = restart_soc
        self.solar = [SolarHarvester(b.config) for b in drawn.boards]
        self.battery = [Battery(b.config) for b in drawn.boards]
        n = len(drawn.boards)
        self.idle_w = np.array([b.config.idle_w for b in drawn.boards])
        self.active_w = np.array([b.config.active_w for b in drawn.boards])
        self.up = np.ones(n, dtype=bool)
        self.load_w = np.zeros(n)
        self.books = Books()
        self.stored_at_start = self.stored_j()
        self.work_h = np.zeros(n)  # duty-hours done per board
        self.down_h = np.zeros(n)  # hours down per board

    @property
    def n(self) -> int:
        return len(self.battery)

    def stored_j(self) -> float:
        return float(sum(b.energy_j for b in self.battery))

    def soc(self) -> np.ndarray:
        return np.array([b.soc for b in self.battery])

    def energy_j(self) -> np.ndarray:
        return np.array([b.energy_j for b in self.battery])

    def harvest_w(self, t_s: float) -> np.ndarray:
        """Every panel's output at board time ``t_s``, W (weather included)."""
        w = self.draw.weather_at(t_s)
        return np.array([s.power_w(t_s) * w for s in self.solar])

    def advance(self, t_s: float, dt_s: float, duty: np.ndarray) -> None:
        """Integrate every board over ``[t_s, t_s + dt_s]`` at ``duty`` (0..1 each)."""
        harvest = self.harvest_w(t_s + dt_s)  # as SimulatedBoard.advance: end of step
        for i in range(self.n):
            demand = self.idle_w[i] + duty[i] * self.active_w[i] if self.up[i] else 0.0
            ran = self._step(i, harvest[i], demand, dt_s)
            hours = dt_s / 3600.0
            if self.up[i]:
                self.work_h[i] += duty[i] * ran * hours
                self.down_h[i] += (1.0 - ran) * hours
                if ran < 1.0:
                    self.up[i] = False
            else:
                self.down_h[i] += hours
                self.up[i] = self.battery[i].soc >= self.restart_soc
            self.load_w[i] = demand * ran

    def _step(self, i: int, harvest_w: float, demand_w: float, dt: float) -> float:
        """One board over ``dt`` s; books it; returns the fraction of the step it ran."""
        battery, books = self.battery[i], self.books
        books.harvest += harvest_w * dt
        before = battery.energy_j
        if demand_w <= harvest_w:
            surplus = (harvest_w - demand_w) * dt
            battery.step(harvest_w - demand_w, dt)
            stored = battery.energy_j - before
            accepted = stored / battery.charge_efficiency
            books.spilled += surplus - accepted
            books.conversion_lost += accepted - stored
            books.used += demand_w * dt
            return 1.0
        need = (demand_w - harvest_w) * dt
        available = before * battery.discharge_efficiency
        drawn = min(need, available)
        battery.step(-drawn / dt, dt)
        if drawn < need:
            battery.energy_j = 0.0  # the float rounding of the last joule
        books.conversion_lost += (before - battery.energy_j) - drawn
        books.used += harvest_w * dt + drawn
        return 1.0 if drawn >= need else (harvest_w * dt + drawn) / (demand_w * dt)

    def transfer(self, source: int, target: int, joules: float, loss: float) -> float:
        """Send ``joules`` from ``source`` to ``target`` at loss ``loss`` (J/J); returns
        the joules that left the sender (clipped to what it holds)."""
        sent = -self.battery[source].transfer(-joules)
        arriving = sent * (1.0 - loss)
        taken = self.battery[target].transfer(arriving)
        self.books.sent += sent
        self.books.received += taken
        self.books.transfer_lost += sent - arriving
        self.books.spilled += arriving - taken
        return sent

    def balance_error_j(self) -> float:
        """``harvest - (delta stored + used + spilled + conversion + transfer lost)``, J."""
        b = self.books
        out = b.used + b.spilled + b.conversion_lost + b.transfer_lost
        return b.harvest - (self.stored_j() - self.stored_at_start + out)
