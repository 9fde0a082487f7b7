"""Build an :class:`~otswarm.agent.loop.Agent` from its config: open the real parts.

Order matters for a clean failure: the config is already valid; the policy and
the profile are checked first (no side effects), then the ledger is opened, then
the microcontroller, then the broker. A part that cannot be opened raises a
typed error naming it, and what was opened before is closed again.
"""

from __future__ import annotations

import contextlib
import logging
import time

from otswarm.agent.act import AdvisoryActuator, BridgeActuator
from otswarm.agent.clock import RoundClock
from otswarm.agent.config import AgentConfig
from otswarm.agent.groups import Grouping
from otswarm.agent.loop import Agent
from otswarm.agent.offers import OfferPolicy
from otswarm.agent.record import RunRecordWriter
from otswarm.agent.sense import BridgeSense, MeterSense
from otswarm.errors import ConfigError

log = logging.getLogger(__name__)

ACTION_SUPPORT_ID = 1  # support id of the harvest policy's duty levels on the wire


def load_policy(model: str):
    """A shipped policy by name (``"harvest"``) or an int8 .tflite path with its card."""
    from otswarm.policy import HARVEST_OBSERVATION, Policy

    if model.endswith(".tflite"):
        return Policy(model, expected_observation=HARVEST_OBSERVATION)
    return Policy.load_default(model)


def load_kernels() -> float:
    """Load every OT kernel now (from the Numba cache once it is warm), so no tick pays
    for a first call; returns the seconds it took."""
    import otswarm.ot

    return otswarm.ot.warmup()


def open_bridge(bridge, timeout_s: float) -> None:
    """Open the MCU link, waiting up to ``timeout_s`` for the device to appear and answer.

    At boot the agent may start before the USB device is enumerated (or, in the
    demo, before the simulated MCU is up): it retries, says so once, and raises
    the bridge's LinkError when the time is up.
    """
    from otswarm.firmware_bridge.errors import LinkError

    log.info(
        "opening the microcontroller on %s",
        bridge.port,
        extra={"fields": {"event": "bridge_opening", "device": bridge.port}},
    )
    deadline = time.monotonic() + timeout_s
    said = False
    while True:
        try:
            bridge.open(timeout_s=min(5.0, timeout_s))
            return
        except LinkError as exc:
            if time.monotonic() >= deadline:
                raise
            if not said:
                log.info("waiting for the microcontroller: %s", exc)
                said = True
            time.sleep(0.2)


def make_link(config: AgentConfig):
    """This agent's MQTT link to the broker of ``[link]`` (not started yet)."""
    from otswarm.link.mqtt import MqttLink
    from otswarm.link.mqtt_config import MqttLinkConfig

    link = config.link
    key = None
    if link.hmac_key_file is not None:
        try:
            key = link.hmac_key_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                f"[link].hmac_key_file: cannot read {link.hmac_key_file}: {exc.strerror}"
            ) from exc
    settings = MqttLinkConfig(
        broker_url=link.url,
        swarm=config.agent.swarm,
        agent=config.agent.id,
        hmac_key=key,
        ca_file=_str(link.tls_ca),
        cert_file=_str(link.tls_cert),
        key_file=_str(link.tls_key),
        username=link.username,
        password=link.password,
        heartbeat_period_s=link.heartbeat_s,
        session_expiry_s=link.session_expiry_s,
        max_offline_messages=link.max_offline_messages,
    )
    return MqttLink(settings)


def make_coordination(config: AgentConfig, link, ledger, profile, levels):
    """``(alignment, allocation)`` of this agent, their handlers registered on ``link``
    (before the link starts, so its first subscriptions include them)."""
    from otswarm.coordination.costs import TransferCosts
    from otswarm.coordination.drift import DriftMonitor
    from otswarm.coordination.exchange import AlignmentExchange
    from otswarm.coordination.rounds import AllocationRound

    c = config.coordination
    drift = DriftMonitor(window=c.drift_window, seed=config.agent.seed or 0)
    alignment = AlignmentExchange(
        link, levels, drift=drift, anchor=c.alignment_anchor, support_id=ACTION_SUPPORT_ID
    )
    allocation = AllocationRound(
        link,
        costs=TransferCosts.from_profile(profile),
        position_m=c.position_m,
        measure=ledger.measure,
    )
    return alignment.start(), allocation.start()


def _str(path) -> str | None:
    return None if path is None else str(path)


def open_board(config: AgentConfig, ledger, meter, telemetry_hz: float):
    """``(sense, actuator)`` of this board: its MCU over the serial bridge, or, without
    ``[bridge].device``, its own power meter (mains-powered, no energy to share)."""
    from otswarm.firmware_bridge.link import BridgeLink

    if config.bridge.device is None:
        actuator = AdvisoryActuator()
        return MeterSense(meter, actuator), actuator
    bridge = BridgeLink(
        config.bridge.device,
        baudrate=config.bridge.baudrate,
        telemetry_hz=telemetry_hz,
        on_telemetry=meter.push_record,
        command_timeout_s=config.bridge.command_timeout_s,
    )
    open_bridge(bridge, config.bridge.open_timeout_s)
    sense = BridgeSense(
        bridge,
        config.bridge.clock,
        config.bridge.mcu_boot_hour,
        capacity_j=config.bridge.battery_capacity_j,
    )
    return sense, BridgeActuator(bridge, ledger)


def board_meter(config: AgentConfig, profile, telemetry_hz: float):
    """The ledger's power meter: the MCU's telemetry (pushed by the bridge), else the
    board's own meter (or the profile's model when it has none)."""
    from otswarm.energy import discover_meter
    from otswarm.energy.meters import TelemetryMeter

    if config.bridge.device is None:
        return discover_meter(profile)
    return TelemetryMeter(source=f"mcu {config.bridge.device}", sample_period_s=1 / telemetry_hz)


def build_agent(config: AgentConfig) -> Agent:
    """Open every part the config names and return the agent, ready to run."""
    from otswarm.energy import EnergyLedger, ledger_path, load_profile

    me = config.agent
    policy = load_policy(config.policy.model)
    profile = load_profile(config.energy.profile)
    kernels_s = load_kernels()
    telemetry_hz = max(1.0, 2.0 / me.tick_period_s)
    meter = board_meter(config, profile, telemetry_hz)
    with contextlib.ExitStack() as undo:
        config.energy.ledger_dir.mkdir(parents=True, exist_ok=True)
        path = ledger_path(config.energy.ledger_dir, me.id)
        ledger = EnergyLedger(path, me.id, profile, meter)
        undo.callback(ledger.close)
        sense, actuator = open_board(config, ledger, meter, telemetry_hz)
        undo.callback(actuator.close)
        link = make_link(config)
        alignment, allocation = make_coordination(
            config, link, ledger, profile, policy.action_values
        )
        c = config.coordination
        grouping = Grouping(me.id, allocation, alignment, link, c.cluster_size, c.position_m)
        link.start()  # connect (MQTT 5, else 3.1.1), subscribe, announce online
        undo.callback(link.close)
        agent = Agent(
            me.id,
            clock=RoundClock(me.tick_period_s),
            sense=sense,
            actuator=actuator,
            policy=policy,
            link=link,
            alignment=alignment,
            allocation=allocation,
            grouping=grouping,
            offers=OfferPolicy(
                c.share_above_soc if c.allocation else 1.0,
                c.ask_below_soc if c.allocation else 0.0,
                c.transfer_max_w,
            ),
            ledger=ledger,
            bypass_below_soc=c.bypass_alignment_below_soc,
            record=RunRecordWriter(me.record_file) if me.record_file else None,
            seed=me.seed,
            telemetry_s=me.telemetry_s,
            board=profile.id,
        )
        undo.pop_all()
    log.info(
        "agent %s built",
        me.id,
        extra={
            "fields": {
                "event": "built",
                "device": config.bridge.device,
                "url": config.link.url,
                "kernels_s": round(kernels_s, 3),
            }
        },
    )
    return agent
