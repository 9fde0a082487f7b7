"""Build an :class:`~runtime.agent.loop.Agent` from its config: open the real parts.

Order matters for a clean failure: the config is already valid; the policy and
the profile are checked first (no side effects), then the ledger is opened, then
the microcontroller, then the broker. A part that cannot be opened raises a
typed error naming it, and what was opened before is closed again.
"""

from __future__ import annotations

import contextlib
import logging

from runtime.agent.act import BridgeActuator
from runtime.agent.allocation import AllocationParticipant, OfferPolicy
from runtime.agent.clock import RoundClock
from runtime.agent.config import AgentConfig
from runtime.agent.loop import Agent
from runtime.agent.record import RunRecordWriter
from runtime.agent.sense import BridgeSense
from runtime.agent.swarm import SwarmView
from runtime.errors import ConfigError

log = logging.getLogger(__name__)


def load_policy(model: str):
    """A shipped policy by name (``"harvest"``) or an int8 .tflite path with its card."""
    from runtime.policy import HARVEST_OBSERVATION, Policy

    if model.endswith(".tflite"):
        return Policy(model, expected_observation=HARVEST_OBSERVATION)
    return Policy.load_default(model)


def open_link(config: AgentConfig):
    """Connect to the broker of ``[link]`` as this agent (MQTT 5, else 3.1.1)."""
    from runtime.link.mqtt import MqttLink
    from runtime.link.mqtt_config import MqttLinkConfig

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
    )
    return MqttLink(settings).start()


def open_allocation(config: AgentConfig, link, actuator, ledger, profile):
    """This agent's allocation rounds, or None when ``[coordination].allocation = false``."""
    from runtime.coordination.costs import TransferCosts

    c = config.coordination
    if not c.allocation:
        return None
    policy = OfferPolicy(c.share_above_soc, c.ask_below_soc, c.transfer_max_w, c.position_m)
    costs = TransferCosts.from_profile(profile)
    return AllocationParticipant(config.agent.id, link, actuator, ledger, costs, policy)


def _str(path) -> str | None:
    return None if path is None else str(path)


def build_agent(config: AgentConfig) -> Agent:
    """Open every part the config names and return the agent, ready to run."""
    from firmware_bridge.link import BridgeLink
    from runtime.coordination.alignment import PolicyAligner
    from runtime.coordination.drift import DriftMonitor
    from runtime.energy import EnergyLedger, ledger_path, load_profile

    me = config.agent
    if config.bridge.device is None:
        raise ConfigError("[bridge].device: required (the microcontroller's serial device)")
    policy = load_policy(config.policy.model)
    profile = load_profile(config.energy.profile)
    with contextlib.ExitStack() as undo:
        config.energy.ledger_dir.mkdir(parents=True, exist_ok=True)
        ledger = EnergyLedger(ledger_path(config.energy.ledger_dir, me.id), me.id, profile)
        undo.callback(ledger.close)
        bridge = BridgeLink(
            config.bridge.device,
            baudrate=config.bridge.baudrate,
            telemetry_hz=max(1.0, 2.0 / me.tick_period_s),
            command_timeout_s=config.bridge.command_timeout_s,
        )
        bridge.open()
        actuator = BridgeActuator(bridge, ledger)
        undo.callback(actuator.close)
        clock = RoundClock(me.tick_period_s)
        swarm = SwarmView(open_link(config), ledger, policy.action_values)
        undo.callback(swarm.close)
        agent = Agent(
            me.id,
            clock=clock,
            sense=BridgeSense(bridge, config.bridge.clock, config.bridge.mcu_boot_hour),
            actuator=actuator,
            policy=policy,
            aligner=PolicyAligner(policy.action_values, step=config.coordination.alignment_step),
            drift=DriftMonitor(window=config.coordination.drift_window, seed=me.seed or 0),
            swarm=swarm,
            allocation=open_allocation(config, swarm.link, actuator, ledger, profile),
            ledger=ledger,
            record=RunRecordWriter(me.record_file) if me.record_file else None,
            seed=me.seed,
        )
        undo.pop_all()
    log.info(
        "agent %s built",
        me.id,
        extra={
            "fields": {"event": "built", "bridge": config.bridge.device, "url": config.link.url}
        },
    )
    return agent
