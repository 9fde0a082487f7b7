"""Build an :class:`~otswarm.agent.loop.Agent` from its config: open the real parts.

Order matters for a clean failure: the config is already valid; the policy, the
profile and the link's files (keys, roster, TLS) are checked first (no side
effects), then the ledger is opened, then the microcontroller, then the broker.
A part that cannot be opened raises a typed error naming it, and what was opened
before is closed again. A stop asked for meanwhile (SIGTERM while waiting for the
microcontroller or the broker) ends the build with StopRequested. The OT kernels
the config's stages call load from the Numba cache on a thread meanwhile, and are
in before the broker is joined.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from otswarm.agent.act import AdvisoryActuator, BridgeActuator
from otswarm.agent.clock import RoundClock
from otswarm.agent.config import AgentConfig
from otswarm.agent.groups import Grouping
from otswarm.agent.loop import Agent
from otswarm.agent.offers import OfferPolicy
from otswarm.agent.record import RunRecordWriter
from otswarm.agent.sense import BridgeSense, MeterSense
from otswarm.errors import ConfigError, StopRequested

log = logging.getLogger(__name__)

ACTION_SUPPORT_ID = 1  # support id of the harvest policy's duty levels on the wire
ATTEMPT_S = 2.0  # longest single attempt to open the MCU (bounds how late a stop is seen)


def load_policy(model: str):
    """A shipped policy by name (``"harvest"``) or an int8 .tflite path with its card."""
    from otswarm.policy import HARVEST_OBSERVATION, Policy

    if model.endswith(".tflite"):
        return Policy(model, expected_observation=HARVEST_OBSERVATION)
    return Policy.load_default(model)


def agent_kernels(config: AgentConfig) -> tuple[str, ...]:
    """The OT kernels (:func:`otswarm.ot.warmup` names) that this agent's stages call
    every round: the drift monitor's distances with ``drift``, Sinkhorn (balanced and
    unbalanced) with ``allocation_method = "ot"``. The greedy and proportional
    allocations and the alignment exchange call none. The grouping's clustering
    (``emd``, with SciPy's linear program) runs only once the swarm outgrows
    ``cluster_size``, so its first run loads its kernel instead."""
    c = config.coordination
    kernels = ()
    if c.drift:
        kernels += ("wasserstein_1d", "sliced_wasserstein")
    if c.allocation and c.allocation_method == "ot":
        kernels += ("sinkhorn", "sinkhorn_unbalanced")
    return kernels


def load_kernels(kernels: tuple[str, ...]) -> float:
    """Load ``kernels`` now (from the Numba cache once it is warm), so no tick pays for
    a first call; returns the seconds it took. With none, Numba is not even imported."""
    if not kernels:
        return 0.0
    began = time.perf_counter()
    import otswarm.ot  # Numba

    otswarm.ot.warmup(kernels)
    return time.perf_counter() - began


def start_loading_kernels(kernels: tuple[str, ...]) -> Future:
    """Start :func:`load_kernels` on a thread; its future gives the seconds it took.

    The build opens the ledger, the microcontroller and the broker meanwhile (file,
    serial and socket waits, and llvmlite's native code, run while the thread holds
    no lock), and waits for the kernels before the agent goes online: no tick ever
    runs while Numba loads (ticks that overlapped it stalled for seconds under load).
    """
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otswarm-kernels")
    try:
        return executor.submit(load_kernels, kernels)
    finally:
        executor.shutdown(wait=False)


def open_bridge(bridge, timeout_s: float, stop: threading.Event | None = None) -> None:
    """Open the MCU link, waiting up to ``timeout_s`` for the device to appear and answer.

    At boot the agent may start before the USB device is enumerated (or, in the
    demo, before the simulated MCU is up): it retries, says so once, and raises
    the bridge's LinkError when the time is up, or StopRequested as soon as
    ``stop`` is set (each attempt waits at most ATTEMPT_S).
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
        if stop is not None and stop.is_set():
            raise StopRequested(f"stopped while waiting for the microcontroller on {bridge.port}")
        try:
            bridge.open(timeout_s=min(ATTEMPT_S, timeout_s))
            return
        except LinkError as exc:
            if time.monotonic() >= deadline:
                raise
            if not said:
                log.info("waiting for the microcontroller: %s", exc)
                said = True
            if stop is not None:
                stop.wait(0.2)
            else:
                time.sleep(0.2)


def _read(path, key: str) -> bytes:
    """The bytes of the file ``[link].<key>`` names, or a ConfigError naming the key."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"[link].{key}: cannot read {path}: {exc.strerror}") from exc


def load_identity(config: AgentConfig):
    """This agent's AgentIdentity from ``[link].key_file``, ``operator_key_file`` and
    ``roster_file`` (None without a key_file); ConfigError naming the bad key."""
    from otswarm.identity import (
        AgentIdentity,
        IdentityError,
        read_private_key,
        read_public_key,
        read_roster,
    )

    link = config.link
    if link.key_file is None:
        return None
    step = "key_file"
    try:
        key = read_private_key(link.key_file)
        step = "operator_key_file"
        operator = read_public_key(link.operator_key_file)
        step = "roster_file"
        roster = None
        if link.roster_file is not None:
            roster = read_roster(link.roster_file, operator, swarm=config.agent.swarm)
        return AgentIdentity(config.agent.id, key, operator, roster)
    except IdentityError as exc:
        raise ConfigError(f"[link].{step}: {exc}") from exc


def make_link(config: AgentConfig):
    """This agent's MQTT link to the broker of ``[link]`` (not started yet); every file
    it names (keys, roster, TLS) is read or checked here, so a missing one is a
    ConfigError naming its key."""
    from otswarm.link.limits import LinkLimits
    from otswarm.link.mqtt import MqttLink
    from otswarm.link.mqtt_config import MqttLinkConfig

    link = config.link
    key = None
    if link.hmac_key_file is not None:
        key = _read(link.hmac_key_file, "hmac_key_file").strip()
    for name in ("tls_ca", "tls_cert", "tls_key"):
        if getattr(link, name) is not None:
            _read(getattr(link, name), name)
    limits = LinkLimits(
        max_skew_s=link.max_clock_skew_s,
        max_heartbeat_period_s=link.max_heartbeat_period_s,
        max_members=link.max_members,
        rate_per_s=link.rate_per_s,
        burst=link.rate_burst,
    )
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
        connect_timeout_s=link.connect_timeout_s,
        limits=limits,
        identity=load_identity(config),
    )
    return MqttLink(settings)


def make_rollout(config: AgentConfig, link, policy):
    """How this agent takes policy rollouts (its handler registered on ``link``)."""
    from otswarm.agent.telemetry import file_sha256
    from otswarm.identity import read_public_key
    from otswarm.policy import HARVEST_OBSERVATION
    from otswarm.rollout.adopter import PolicyRollout
    from otswarm.rollout.candidate import contract_of

    p = config.policy
    path = p.operator_key or config.link.operator_key_file  # one operator, one key
    key = None if path is None else read_public_key(path)
    return PolicyRollout(
        config.agent.id, config.agent.swarm, link, policy, file_sha256(policy.model_path),
        trusted_key=key,
        contract=contract_of(policy, HARVEST_OBSERVATION, p.max_model_bytes),
        store_dir=config.energy.ledger_dir / "policies",
        rollback_after=p.rollback_after,
    )  # fmt: skip


def make_coordination(config: AgentConfig, link, ledger, profile, levels):
    """``(alignment, allocation)`` of this agent, their handlers registered on ``link``
    (before the link starts, so its first subscriptions include them)."""
    from otswarm.coordination.costs import TransferCosts
    from otswarm.coordination.drift import DriftMonitor
    from otswarm.coordination.exchange import AlignmentExchange
    from otswarm.coordination.rounds import AllocationRound

    c = config.coordination
    drift = DriftMonitor(window=c.drift_window, seed=config.agent.seed or 0) if c.drift else None
    alignment = AlignmentExchange(
        link, levels, drift=drift, anchor=c.alignment_anchor, support_id=ACTION_SUPPORT_ID
    )
    allocation = AllocationRound(
        link,
        costs=TransferCosts.from_profile(profile),
        position_m=c.position_m,
        method=c.allocation_method,
        measure=ledger.measure,
    )
    return alignment.start(), allocation.start()


def _str(path) -> str | None:
    return None if path is None else str(path)


def open_board(config: AgentConfig, ledger, meter, telemetry_hz: float, stop=None):
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
    open_bridge(bridge, config.bridge.open_timeout_s, stop)
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


def open_ledger_dir(path) -> None:
    """Create the ledger's folder, or a ConfigError saying why it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"[energy].ledger_dir: cannot create {path}: {exc.strerror}") from exc


def build_agent(config: AgentConfig, stop: threading.Event | None = None) -> Agent:
    """Open every part the config names and return the agent, ready to run; ``stop``
    (set by SIGTERM) ends a wait for the microcontroller or the broker early."""
    from otswarm.energy import EnergyLedger, ledger_path, load_profile

    me = config.agent
    kernels = agent_kernels(config)
    loading = start_loading_kernels(kernels)
    policy = load_policy(config.policy.model)
    profile = load_profile(config.energy.profile)
    telemetry_hz = max(1.0, 2.0 / me.tick_period_s)
    meter = board_meter(config, profile, telemetry_hz)
    link = make_link(config)
    with contextlib.ExitStack() as undo:
        open_ledger_dir(config.energy.ledger_dir)
        path = ledger_path(config.energy.ledger_dir, me.id)
        ledger = EnergyLedger(path, me.id, profile, meter)
        undo.callback(ledger.close)
        sense, actuator = open_board(config, ledger, meter, telemetry_hz, stop)
        undo.callback(actuator.close)
        alignment, allocation = make_coordination(
            config, link, ledger, profile, policy.action_values
        )
        c = config.coordination
        grouping = Grouping(me.id, c.cluster_size, c.position_m)
        rollout = make_rollout(config, link, policy)
        kernels_s = loading.result()  # before going online: no tick while Numba loads
        log.info(
            "connecting to the broker %s",
            config.link.url,
            extra={"fields": {"event": "broker_connecting", "url": config.link.url}},
        )
        link.start(stop=stop)  # connect (MQTT 5, else 3.1.1), subscribe, announce online
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
            align=c.alignment,
            record=RunRecordWriter(me.record_file) if me.record_file else None,
            seed=me.seed,
            telemetry_s=me.telemetry_s,
            board=profile.id,
            rollout=rollout,
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
                "kernels": list(kernels),
                "kernels_s": round(kernels_s, 3),
            }
        },
    )
    return agent
