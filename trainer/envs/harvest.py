"""``harvest``: a swarm of solar-powered boards that duty-cycle their work and
share energy through an optimal-transport allocation.

Each agent is the single-node duty-cycling problem of the energy-harvesting
literature (a battery, a solar trace with day/night and weather, duty-cycle
actions with an energy cost, energy-neutral operation as the goal; Kansal et al.
2007; Hsu et al. 2014; Fraternali et al. 2020) and the swarm makes it
multi-agent: panels, batteries and tasks differ between agents, and after every
step the surplus of full batteries is moved to empty ones by
:func:`otswarm.trainer.envs.sharing.share_energy`.

One step of ``dt_h`` hours for agent ``i`` running duty ``d`` (energies in Wh):

    load      L = idle_w + d * task_w                    (0 while the board is down)
    net       n = (H - L) * dt_h                         H: panel power [W]
    battery   E <- min(C, E + eta_c n) if n >= 0 else E - |n| / eta_d   (down if it empties)
    reward    r = value * d * f - c_down * down_h - c_waste * waste_wh
                - [last step] c_eno * |soc_T - soc_0|

``f`` is the fraction of the step the board ran, ``down_h = (1 - f) dt_h`` the
downtime and ``waste_wh`` the harvest that did not fit into a full battery. A
board that went down restarts once its charge is back above ``restart_soc``.
:class:`VecHarvest` runs many swarms at once in NumPy; :class:`HarvestParallelEnv`
is the PettingZoo ``ParallelEnv`` view of one swarm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from pettingzoo import ParallelEnv

from otswarm.policy.observation import (
    HARVEST_DUTY_LEVELS,
    HARVEST_FEATURES,
    harvest_features,
    normalise,
)
from otswarm.trainer.envs.sharing import share_energy
from otswarm.trainer.envs.solar import clear_sky_fraction, weather_days


@dataclass(frozen=True)
class HarvestConfig:
    """Parameters of the swarm (defaults: four Raspberry-Pi-class boards).

    Loads follow Raspberry Pi 4 figures (about 2-3 W idle, 6-7 W under full load);
    panels are 10-30 W hobby panels; batteries 40-60 Wh (a 12 V 3.3-5 Ah pack);
    Li-ion charge/discharge efficiency 0.95 each.
    """

    panel_peak_w: tuple[float, ...] = (10.0, 14.0, 22.0, 30.0)
    idle_w: tuple[float, ...] = (2.0, 2.0, 2.5, 2.5)
    task_w: tuple[float, ...] = (3.0, 4.5, 5.5, 4.0)
    task_value: tuple[float, ...] = (1.0, 1.5, 2.0, 1.2)  # work units per hour at duty 1
    battery_wh: tuple[float, ...] = (40.0, 40.0, 60.0, 60.0)
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    dt_h: float = 1.0
    days: int = 4
    restart_soc: float = 0.1
    sunrise_h: tuple[float, float] = (5.5, 7.5)  # drawn uniformly per episode
    sunset_h: tuple[float, float] = (17.0, 19.5)
    panel_noise: float = 0.1
    sharing: bool = True
    give_above_soc: float = 0.7
    need_below_soc: float = 0.35
    share_max_w: float = 10.0
    line_eta: float = 0.92  # efficiency to the nearest neighbour, minus line_loss per hop
    line_loss: float = 0.03
    c_down: float = 2.0  # per hour down
    c_waste: float = 0.02  # per Wh spilled
    c_eno: float = 10.0  # per unit |soc_T - soc_0|
    duty_levels: tuple[float, ...] = field(default=HARVEST_DUTY_LEVELS)

    @property
    def n_agents(self) -> int:
        return len(self.panel_peak_w)

    @property
    def steps(self) -> int:
        return round(self.days * 24 / self.dt_h)

    def line_efficiency(self) -> np.ndarray:
        """``eta[i, j] = line_eta - line_loss * (|i - j| - 1)``: boards stand in a row."""
        idx = np.arange(self.n_agents)
        hops = np.abs(idx[:, None] - idx[None, :])
        return np.clip(self.line_eta - self.line_loss * (hops - 1), 0.0, 1.0)

    def to_json(self) -> dict:
        return asdict(self)


class VecHarvest:
    """``n_envs`` independent swarms stepped together; arrays are (n_envs, n_agents)."""

    def __init__(self, n_envs: int = 1, config: HarvestConfig | None = None) -> None:
        self.config = config or HarvestConfig()
        self.n_envs = n_envs
        c = self.config
        self._arr = {k: np.asarray(getattr(c, k)) for k in ("panel_peak_w", "idle_w", "task_w")}
        self._value = np.asarray(c.task_value)
        self._cap = np.asarray(c.battery_wh)
        self._levels = np.asarray(c.duty_levels)
        self._eta = c.line_efficiency()

    @property
    def n_agents(self) -> int:
        return self.config.n_agents

    @property
    def obs_size(self) -> int:
        return len(HARVEST_FEATURES)

    @property
    def episode_steps(self) -> int:
        return self.config.steps

    @property
    def n_actions(self) -> int:
        return len(self._levels)

    def reset(self, seed: int) -> np.ndarray:
        """Start new episodes; episode ``k`` draws everything random from ``seed + k``."""
        B, N = self.n_envs, self.n_agents
        draws = [self._draw(np.random.default_rng(seed + k)) for k in range(B)]
        start, rise, sset, weather, noise, soc = (np.stack(x) for x in zip(*draws, strict=True))
        self.t = 0
        self.start_hour, self.sunrise, self.sunset = start[:, None], rise[:, None], sset[:, None]
        self.weather, self.noise = weather, noise.transpose(1, 0, 2)
        self.soc = soc
        self.soc0 = self.soc.copy()
        self.up = np.ones((B, N), dtype=bool)
        self.duty = np.zeros((B, N))
        self.load_w = np.broadcast_to(self._arr["idle_w"], (B, N)).copy()
        self.received_w = np.zeros((B, N))
        return self.observe()

    def _draw(self, rng: np.random.Generator) -> tuple:
        """One episode's randomness: start hour, sunrise, sunset, weather, noise, SoC."""
        c = self.config
        return (
            float(rng.integers(0, 24)),
            rng.uniform(*c.sunrise_h),
            rng.uniform(*c.sunset_h),
            weather_days(rng, 1, c.days + 2)[0],
            rng.normal(0.0, c.panel_noise, size=(c.steps + 1, self.n_agents)),
            rng.uniform(0.3, 0.7, size=self.n_agents),
        )

    def hour(self, t: int | None = None) -> np.ndarray:
        t = self.t if t is None else t
        return np.mod(self.start_hour + t * self.config.dt_h, 24.0)

    def harvest_w(self, t: int | None = None) -> np.ndarray:
        """Panel power [W] at step ``t``: clear-sky curve x weather x noise."""
        t = self.t if t is None else t
        day = ((self.start_hour[:, 0] + t * self.config.dt_h) // 24).astype(int)
        weather = self.weather[np.arange(self.n_envs), day][:, None]
        sky = clear_sky_fraction(self.hour(t), self.sunrise, self.sunset)
        return self._arr["panel_peak_w"] * weather * sky * np.clip(1 + self.noise[t], 0, None)

    def quantities(self) -> dict[str, np.ndarray]:
        """What each board measures now (the inputs of the observation builder)."""
        return {
            "battery_soc": self.soc,
            "harvest_w": self.harvest_w(),
            "load_w": self.load_w,
            "hour_of_day": np.broadcast_to(self.hour(), self.soc.shape),
            "duty": self.duty,
            "received_w": self.received_w,
        }

    def observe(self) -> np.ndarray:
        """Normalised observations, shape (n_envs, n_agents, obs_size), float32."""
        return normalise(harvest_features(self.quantities()), HARVEST_FEATURES)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, dict]:
        """Apply action indices (n_envs, n_agents); return obs, rewards, done, info."""
        c = self.config
        duty = np.where(self.up, self._levels[np.asarray(actions)], 0.0)
        load_w = np.where(self.up, self._arr["idle_w"] + duty * self._arr["task_w"], 0.0)
        net_wh = (self.harvest_w() - load_w) * c.dt_h
        energy = self.soc * self._cap
        charged = energy + c.eta_charge * np.maximum(net_wh, 0.0)
        waste_wh = np.maximum(charged - self._cap, 0.0) / c.eta_charge
        need_wh = np.maximum(-net_wh, 0.0) / c.eta_discharge
        ran = np.where(need_wh > energy, energy / np.maximum(need_wh, 1e-12), 1.0)
        energy = np.clip(np.minimum(charged, self._cap) - need_wh, 0.0, None)
        went_down = self.up & (ran < 1.0)
        sent, received = self._share(energy)
        energy = energy - sent + received
        self.soc = np.clip(energy / self._cap, 0.0, 1.0)
        down_h = np.where(self.up, (1.0 - ran) * c.dt_h, c.dt_h)
        self.up = np.where(self.up, ~went_down, self.soc >= c.restart_soc)
        work = self._value * duty * ran * c.dt_h
        rewards = work - c.c_down * down_h - c.c_waste * waste_wh
        self.duty, self.load_w, self.received_w = duty, load_w, received / c.dt_h
        self.t += 1
        done = self.t >= c.steps
        eno = np.abs(self.soc - self.soc0)
        if done:
            rewards = rewards - c.c_eno * eno
        info = {"work": work, "down_h": down_h, "waste_wh": waste_wh, "shared_wh": sent, "eno": eno}
        return self.observe(), rewards, done, info

    def _share(self, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self.config
        if not c.sharing:
            zeros = np.zeros_like(energy)
            return zeros, zeros
        cap_wh = c.share_max_w * c.dt_h
        supply = np.clip(energy - c.give_above_soc * self._cap, 0.0, cap_wh)
        demand = np.clip(c.need_below_soc * self._cap - energy, 0.0, cap_wh)
        return share_energy(supply, demand, self._eta)


class HarvestParallelEnv(ParallelEnv):
    """PettingZoo ``ParallelEnv`` of one swarm (agents ``agent_0 .. agent_{N-1}``)."""

    metadata = {"name": "otswarm_harvest_v0", "render_modes": []}  # noqa: RUF012

    def __init__(self, config: HarvestConfig | None = None) -> None:
        from gymnasium import spaces

        self._vec = VecHarvest(1, config)
        self.possible_agents = [f"agent_{i}" for i in range(self._vec.n_agents)]
        self.agents: list[str] = []
        self.render_mode = None
        low = np.full(self._vec.obs_size, -np.inf, dtype=np.float32)
        self._obs_space = spaces.Box(low, -low, dtype=np.float32)
        self._act_space = spaces.Discrete(self._vec.n_actions)
        self._seed = 0

    def observation_space(self, agent: str):
        return self._obs_space

    def action_space(self, agent: str):
        return self._act_space

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._seed = self._seed + 1 if seed is None else seed
        obs = self._vec.reset(self._seed)[0]
        self.agents = list(self.possible_agents)
        return self._split(obs), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]):
        order = np.array([[actions[a] for a in self.possible_agents]])
        obs, rewards, done, info = self._vec.step(order)
        names = self.possible_agents
        infos = {a: {k: float(v[0, i]) for k, v in info.items()} for i, a in enumerate(names)}
        result = (
            self._split(obs[0]),
            {a: float(rewards[0, i]) for i, a in enumerate(names)},
            {a: False for a in names},
            {a: done for a in names},
            infos,
        )
        if done:
            self.agents = []
        return result

    def state(self) -> np.ndarray:
        return self._vec.observe()[0].reshape(-1)

    def close(self) -> None:
        self.agents = []

    def _split(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        return {a: obs[i] for i, a in enumerate(self.possible_agents)}
