"""Every knob of the simulated board, with its unit, in one record."""

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class SimulatorConfig:
    """Parameters of one simulated MCU and the board around it.

    Times are *board* seconds (the simulated clock) unless they say wall; the
    board clock runs ``time_acceleration`` times faster than the wall clock, so
    with 1440 a simulated day passes in one wall minute.
    """

    seed: int = 0  # seeds clouds and sensor noise
    board_id: int = 0  # reported in the HELLO reply
    time_acceleration: float = 60.0  # board seconds per wall second
    start_time_of_day_s: float = 8 * 3600.0  # time of day when the board boots, s
    day_length_s: float = 86400.0
    sunrise_s: float = 6 * 3600.0  # time of day, s
    sunset_s: float = 18 * 3600.0  # time of day, s
    solar_peak_w: float = 6.0  # panel output at noon under a clear sky, W
    cloudiness: float = 0.3  # 0 clear .. 1 overcast: mean depth of cloud attenuation
    cloud_scale_s: float = 1200.0  # board seconds between independent cloud states
    harvest_drop_at_s: float = -1.0  # board time of a scripted harvest change; < 0: none
    harvest_drop_factor: float = 0.3  # harvest multiplier from harvest_drop_at_s on
    battery_capacity_j: float = 36000.0  # 10 Wh
    initial_soc: float = 0.6  # 0..1
    charge_efficiency: float = 0.95  # stored J per harvested J
    discharge_efficiency: float = 0.95  # delivered J per stored J
    bus_voltage_v: float = 5.05  # regulated bus at no load, V
    bus_resistance_ohm: float = 0.08  # bus droop per ampere, V/A
    sleep_w: float = 0.3  # draw in MODE_SLEEP, W
    idle_w: float = 2.4  # draw in MODE_ECO / MODE_RUN at duty 0, W
    active_w: float = 4.0  # extra draw in MODE_RUN at duty 1 (half of it in MODE_ECO), W
    current_noise_a: float = 0.002  # standard deviation of the current reading, A
    voltage_noise_v: float = 0.004  # standard deviation of the bus voltage reading, V
    ambient_c: float = 22.0  # mean ambient temperature, C
    ambient_swing_c: float = 5.0  # day/night amplitude of ambient, C
    heating_c_per_w: float = 1.5  # board temperature rise per watt drawn, C/W
    energy_sharing: bool = True  # board can move energy into / out of its battery
    telemetry_hz: float = 1.0  # telemetry rate before the host sets one, per wall second

    def to_args(self):
        """Flags of ``python -m otswarm.firmware_bridge.simulator`` giving this config."""
        args = []
        for field in fields(self):
            value = getattr(self, field.name)
            flag = "--" + field.name.replace("_", "-")
            if isinstance(value, bool):
                args.append(flag if value else "--no-" + flag[2:])
            else:
                args.extend([flag, repr(value)])
        return args


def add_config_arguments(parser):
    """One ``--field-name`` flag per :class:`SimulatorConfig` field, defaulting to it."""
    defaults = SimulatorConfig()
    for field in fields(SimulatorConfig):
        value = getattr(defaults, field.name)
        flag = "--" + field.name.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(
                flag, dest=field.name, action="store_true", default=value, help=f"(default {value})"
            )
            parser.add_argument("--no-" + flag[2:], dest=field.name, action="store_false")
        else:
            parser.add_argument(
                flag, dest=field.name, type=type(value), default=value, help=f"(default {value})"
            )


def config_from_args(args):
    """The :class:`SimulatorConfig` named by parsed :func:`add_config_arguments` flags."""
    return SimulatorConfig(
        **{field.name: getattr(args, field.name) for field in fields(SimulatorConfig)}
    )
