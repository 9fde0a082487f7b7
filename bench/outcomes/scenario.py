"""The scenario: a heterogeneous solar swarm over simulated days, drawn from a seed.

Every board is a Raspberry-Pi-class computer on a solar panel and a battery. Its
panel gives (``otswarm.firmware_bridge.simulator.SolarHarvester``)

    P(t) = peak * sin(pi (tod - sunrise) / (sunset - sunrise)) * cloud(t) * shade(t) * w(day)

with the simulator's intra-day cloud noise ``cloud(t)`` and scripted drop
``shade(t)`` (the shock: ``shade_factor`` from ``shock_day`` on, for a random
``shaded_fraction`` of the boards), times a daily weather factor ``w(day)``
shared by the swarm (the three-state Markov chain the harvest policy was trained
on, ``otswarm.trainer.envs.solar``). The load draws ``idle_w + duty * active_w``.
The numbers and their sources are in docs/results.md ("Swarm outcomes"); they
were fixed before any strategy was compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from otswarm.firmware_bridge.simulator import SimulatorConfig

DAY_S = 86400.0


@dataclass(frozen=True)
class Scenario:
    """Parameters of the swarm; ranges ``(lo, hi)`` are drawn uniformly per board."""

    boards: int = 32
    days: float = 7.0
    tick_s: float = 900.0  # one agent tick = one coordination round, board s
    step_s: float = 300.0  # physics integration step, board s
    field_m: float = 60.0  # boards stand on a square of this side, m
    panel_w: tuple[float, float] = (10.0, 30.0)  # nameplate (STC) peak, W
    derate: float = 0.86  # system losses at noon (PVWatts default 14 %)
    battery_wh: tuple[float, float] = (25.0, 60.0)
    initial_soc: tuple[float, float] = (0.4, 0.8)
    idle_w: tuple[float, float] = (2.0, 2.7)  # Pi 4 idle 2.7 W
    active_w: tuple[float, float] = (2.5, 3.7)  # extra at duty 1 (Pi 4 loaded 6.4 W)
    efficiency: float = 0.95  # charge and discharge, each
    cloudiness: float = 0.2  # intra-day cloud noise depth (simulator's value noise)
    sunrise_h: float = 6.0
    sunset_h: float = 18.0
    shock_day: float = 2.0  # the shading starts here (days from the start: day 3)
    shaded_fraction: float = 1.0 / 3.0
    shade_factor: float = 0.3  # shaded panel output / unshaded
    restart_soc: float = 0.1  # a board that ran empty boots again at this charge
    loss_fraction: float = 0.05  # each board's converter loss on a transfer, J/J
    cluster_size: int = 8  # the agent's [coordination].cluster_size

    @classmethod
    def quick(cls) -> Scenario:
        """A few boards, one day, the shock at noon: what the test runs."""
        return cls(boards=6, days=1.0, shock_day=0.5)

    @property
    def ticks(self) -> int:
        return round(self.days * DAY_S / self.tick_s)

    @property
    def shock_s(self) -> float:
        return self.shock_day * DAY_S


@dataclass(frozen=True)
class Board:
    """One drawn board: its simulator config, where it stands, whether it is shaded."""

    id: str
    config: SimulatorConfig
    position_m: tuple[float, float, float]
    shaded: bool

    @property
    def battery_wh(self) -> float:
        return self.config.battery_capacity_j / 3600.0

    @property
    def features(self) -> tuple[float, float, float]:
        """What makes boards similar: panel peak (W), battery (Wh), load at duty 1 (W)."""
        c = self.config
        return (c.solar_peak_w, self.battery_wh, c.idle_w + c.active_w)


@dataclass(frozen=True)
class Draw:
    """Everything random about one seed: the boards and the daily weather."""

    seed: int
    boards: tuple[Board, ...]
    weather: np.ndarray = field(repr=False)  # factor per day, shape (ceil(days),)

    def weather_at(self, t_s: float) -> float:
        day = min(int(t_s // DAY_S), self.weather.size - 1)
        return float(self.weather[day])


def draw(scenario: Scenario, seed: int) -> Draw:
    """The boards and the weather of ``seed`` (the same seed gives the same swarm)."""
    from otswarm.trainer.envs.solar import weather_days

    rng = np.random.default_rng([seed, 18])
    n = scenario.boards
    s = scenario

    def uniform(bounds):
        return rng.uniform(bounds[0], bounds[1], n)

    panel, battery, soc = uniform(s.panel_w), uniform(s.battery_wh), uniform(s.initial_soc)
    idle, active = uniform(s.idle_w), uniform(s.active_w)
    xy = rng.uniform(0.0, s.field_m, (n, 2))
    shaded = np.zeros(n, dtype=bool)
    shaded[rng.choice(n, size=round(s.shaded_fraction * n), replace=False)] = True
    weather = weather_days(rng, 1, math.ceil(s.days))[0]
    boards = []
    for i in range(n):
        config = SimulatorConfig(
            seed=seed * 1000 + i,
            board_id=i,
            start_time_of_day_s=0.0,
            sunrise_s=s.sunrise_h * 3600.0,
            sunset_s=s.sunset_h * 3600.0,
            solar_peak_w=float(panel[i] * s.derate),
            cloudiness=s.cloudiness,
            harvest_drop_at_s=s.shock_s if shaded[i] else -1.0,
            harvest_drop_factor=s.shade_factor,
            battery_capacity_j=float(battery[i] * 3600.0),
            initial_soc=float(soc[i]),
            charge_efficiency=s.efficiency,
            discharge_efficiency=s.efficiency,
            idle_w=float(idle[i]),
            active_w=float(active[i]),
        )
        position = (float(xy[i, 0]), float(xy[i, 1]), 0.0)
        boards.append(Board(f"b{i:03d}", config, position, bool(shaded[i])))
    return Draw(seed, tuple(boards), weather)
