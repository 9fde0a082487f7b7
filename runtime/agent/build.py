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
from runtime.agent.clock import RoundClock
from runtime.agent.config import AgentConfig
from runtime.agent.loop import Agent
from runtime.agent.record import RunRecordWriter
from runtime.agent.sense import BridgeSense
from runtime.errors import ConfigError

log = logging.getLogger(__name__)


def load_policy(model: str):
    """A shipped policy by name (``"harvest"``) or an int8 .tflite path with its card."""
    from runtime.policy import HARVEST_OBSERVATION, Policy

    if model.endswith(".tflite"):
        return Policy(model, expected_observation=HARVEST_OBSERVATION)
    return Policy.load_default(model)


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
        swarm = open_swarm(config, ledger, policy)
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
            allocation=open_allocation(config, swarm, actuator, ledger),
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
