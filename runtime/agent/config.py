"""The agent's configuration: a TOML file validated into dataclasses.

One table per concern (``[agent]``, ``[link]``, ``[bridge]``, ``[policy]``,
``[energy]``, ``[coordination]``); ``docs/agent.example.toml`` documents every
key. :func:`load_config` raises :class:`~otswarm.errors.ConfigError` naming the
file and the bad key (``agent.toml: [link].port: expected an integer, got '80'``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from otswarm.energy.board import default_profile
from otswarm.errors import ConfigError
from otswarm.ids import ID_RULE, is_valid_id
from otswarm.tomlconfig import parse_toml, table_to_dataclass


@dataclass(frozen=True)
class AgentSection:
    """Who this agent is and how fast it ticks."""

    id: str
    swarm: str = "default"
    tick_period_s: float = 1.0
    telemetry_s: float = 10.0
    log_file: Path | None = None
    log_level: str = "info"
    record_file: Path | None = None
    seed: int | None = None


@dataclass(frozen=True)
class LinkSection:
    """How to reach the swarm's broker (see docs/deploy.md for a secured fleet), who
    this agent is on it (docs/security.md) and what it believes of others."""

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    hmac_key_file: Path | None = None
    key_file: Path | None = None
    operator_key_file: Path | None = None
    roster_file: Path | None = None
    heartbeat_s: float = 2.0
    session_expiry_s: int = 300
    max_offline_messages: int = 1000
    connect_timeout_s: float = 10.0
    max_clock_skew_s: float = 30.0
    max_heartbeat_period_s: float = 60.0
    max_members: int = 4096
    rate_per_s: float = 50.0
    rate_burst: int = 500


@dataclass(frozen=True)
class BridgeSection:
    """The serial link to the microcontroller (a device path or a pyserial URL)."""

    device: str | None = None
    baudrate: int = 115200
    command_timeout_s: float = 0.5
    open_timeout_s: float = 60.0
    clock: str = "local"
    mcu_boot_hour: float = 0.0
    battery_capacity_j: float | None = None  # None: learned from telemetry (soc > 0)


@dataclass(frozen=True)
class PolicySection:
    """Which policy to run: a shipped name (``harvest``) or a path to a .tflite file;
    and the rollouts it accepts: signed by ``operator_key`` (an Ed25519 public key in
    PEM; unset: the one of ``[link].operator_key_file``; neither: every rollout is
    refused), models up to ``max_model_bytes``, rolled back after
    ``rollback_after`` failed decisions in a row (docs/fleet.md)."""

    model: str = "harvest"
    operator_key: Path | None = None
    max_model_bytes: int = 49152
    rollback_after: int = 3


@dataclass(frozen=True)
class EnergySection:
    """Where the ledger lives and which board profile prices the components."""

    ledger_dir: Path = Path("/var/lib/otswarm")
    profile: str = field(default_factory=default_profile)  # this board's (energy/board.py)


@dataclass(frozen=True)
class CoordinationSection:
    """Alignment, allocation, drift and clustering settings.

    The defaults of ``alignment``, ``allocation_method`` and ``drift`` follow the
    swarm outcomes of ``otswarm bench outcomes`` (docs/coordination.md, "Defaults").
    """

    allocation: bool = True
    allocation_method: str = "greedy"  # ot, greedy (nearest-first) or proportional
    alignment: bool = False  # draw the duty from the swarm consensus (else own policy)
    drift: bool = False  # drift monitor sets the alignment step and re-planning period
    transfer_max_w: float = 2.0
    share_above_soc: float = 0.6
    ask_below_soc: float = 0.4
    position_m: tuple[float, ...] = (0.0, 0.0, 0.0)
    drift_window: int = 16
    cluster_size: int = 8
    alignment_anchor: float = 0.2
    bypass_alignment_below_soc: float = 0.3


@dataclass(frozen=True)
class AgentConfig:
    """Everything one agent needs; built by :func:`load_config` or :func:`parse_config`."""

    agent: AgentSection
    link: LinkSection = field(default_factory=LinkSection)
    bridge: BridgeSection = field(default_factory=BridgeSection)
    policy: PolicySection = field(default_factory=PolicySection)
    energy: EnergySection = field(default_factory=EnergySection)
    coordination: CoordinationSection = field(default_factory=CoordinationSection)


_SECTIONS = {
    "agent": AgentSection,
    "link": LinkSection,
    "bridge": BridgeSection,
    "policy": PolicySection,
    "energy": EnergySection,
    "coordination": CoordinationSection,
}


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate the TOML file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the agent config: {exc.strerror}") from exc
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<config>") -> AgentConfig:
    """Validate TOML ``text``; ``source`` names it in error messages."""
    document = parse_toml(text, source)
    unknown = sorted(set(document) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"{source}: unknown table [{unknown[0]}] (known: {', '.join(_SECTIONS)})")
    if "agent" not in document:
        raise ConfigError(f"{source}: missing table [agent] (it needs at least id = ...)")
    sections = {
        name: table_to_dataclass(cls, document[name], f"{source}: [{name}]")
        for name, cls in _SECTIONS.items()
        if name in document
    }
    config = AgentConfig(**sections)
    _check_ranges(config, source)
    return config


def _check_ranges(config: AgentConfig, source: str) -> None:
    """Values that have the right type but make no sense."""
    checks: list[tuple[bool, str]] = [
        (is_valid_id(config.agent.id), f"[agent].id: use {ID_RULE}"),
        (is_valid_id(config.agent.swarm), f"[agent].swarm: use {ID_RULE}"),
        (config.agent.tick_period_s > 0, "[agent].tick_period_s: must be > 0"),
        (config.agent.telemetry_s > 0, "[agent].telemetry_s: must be > 0"),
        (
            config.agent.log_level in ("debug", "info", "warning", "error"),
            "[agent].log_level: use debug, info, warning or error",
        ),
        (
            config.link.url.startswith(("mqtt://", "mqtts://")),
            "[link].url: must start with mqtt:// or mqtts://",
        ),
        (config.link.heartbeat_s > 0, "[link].heartbeat_s: must be > 0"),
        (config.link.session_expiry_s >= 0, "[link].session_expiry_s: must be >= 0"),
        (config.link.max_offline_messages >= 1, "[link].max_offline_messages: must be >= 1"),
        (config.link.connect_timeout_s > 0, "[link].connect_timeout_s: must be > 0"),
        (config.link.max_clock_skew_s > 0, "[link].max_clock_skew_s: must be > 0"),
        (
            0 < config.link.max_heartbeat_period_s < float("inf")
            and config.link.heartbeat_s <= config.link.max_heartbeat_period_s,
            "[link].max_heartbeat_period_s: must be finite and >= heartbeat_s",
        ),
        (config.link.max_members >= 1, "[link].max_members: must be >= 1"),
        (config.link.rate_per_s > 0, "[link].rate_per_s: must be > 0"),
        (config.link.rate_burst >= 1, "[link].rate_burst: must be >= 1"),
        (
            (config.link.key_file is None) == (config.link.operator_key_file is None),
            "[link]: key_file and operator_key_file go together (per-agent identity)",
        ),
        (
            config.link.roster_file is None or config.link.key_file is not None,
            "[link].roster_file: needs key_file and operator_key_file",
        ),
        (
            config.bridge.clock in ("local", "mcu"),
            "[bridge].clock: use local (board clock) or mcu (the MCU's time of day)",
        ),
        (config.bridge.baudrate > 0, "[bridge].baudrate: must be > 0"),
        (
            1 <= config.policy.max_model_bytes <= 65536,
            "[policy].max_model_bytes: 1..65536 (a rollout is one MQTT message of at most 64 KiB)",
        ),
        (config.policy.rollback_after >= 1, "[policy].rollback_after: must be >= 1"),
        (config.agent.id != "operator", '[agent].id: "operator" is the rollout sender\'s id'),
        (config.bridge.command_timeout_s > 0, "[bridge].command_timeout_s: must be > 0"),
        (config.bridge.open_timeout_s > 0, "[bridge].open_timeout_s: must be > 0"),
        (
            config.bridge.battery_capacity_j is None or config.bridge.battery_capacity_j > 0,
            "[bridge].battery_capacity_j: must be > 0 (J)",
        ),
        (config.coordination.transfer_max_w >= 0, "[coordination].transfer_max_w: >= 0"),
        (
            0.0 <= config.coordination.ask_below_soc <= config.coordination.share_above_soc <= 1.0,
            "[coordination]: need 0 <= ask_below_soc <= share_above_soc <= 1",
        ),
        (len(config.coordination.position_m) == 3, "[coordination].position_m: give [x, y, z]"),
        (
            config.coordination.allocation_method in ("ot", "greedy", "proportional"),
            "[coordination].allocation_method: use ot, greedy or proportional",
        ),
        (config.coordination.drift_window >= 4, "[coordination].drift_window: must be >= 4"),
        (config.coordination.cluster_size >= 2, "[coordination].cluster_size: must be >= 2"),
        (
            0.0 <= config.coordination.alignment_anchor < 1.0,
            "[coordination].alignment_anchor: must be in [0, 1)",
        ),
        (
            0.0 <= config.coordination.bypass_alignment_below_soc <= 1.0,
            "[coordination].bypass_alignment_below_soc: must be in [0, 1] (0: never)",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{source}: {message}")
