"""The board checks of ``otswarm doctor``; each returns one :class:`Finding`.

Every check is read-only and quick: it opens, reads and closes (a meter, the
serial device, the broker's TCP port with one MQTT CONNECT), it compiles
nothing and it publishes nothing.
"""

from __future__ import annotations

import glob
import importlib
import os
from dataclasses import dataclass

SERIAL_PATTERNS = ("/dev/ttyACM*", "/dev/ttyUSB*", "/dev/serial0", "/dev/serial/by-id/*")
# meters read from sysfs or a command; I2C chips are probed only when the profile
# names them (probing a bus can disturb other devices on it)
METER_KINDS = ("ina3221", "pi5_pmic", "ina2xx_hwmon", "rapl")


@dataclass(frozen=True)
class Finding:
    """One line of the report: ``status`` is ``ok``, ``warn`` or ``fail``."""

    item: str
    status: str
    detail: str


def check_board(board, profile: str | None, given_by: str | None) -> Finding:
    """Which power profile the ledger uses and why: ``board`` is what
    :func:`otswarm.energy.board.detect_board` found, ``profile`` the one in use,
    ``given_by`` what set it when not the detection (``--profile``, a config)."""
    if profile is None:
        return Finding("board", "fail", f"no power profile: {board.reason}; set [energy].profile")
    if given_by is None or profile == board.profile:
        return Finding("board", "ok", f"profile {profile}: {board.reason}")
    looks = board.profile or "none of the bundled profiles"
    return Finding(
        "board",
        "warn",
        f"profile {profile} from {given_by}; this board looks like {looks} ({board.reason})",
    )


def check_meters(profile_name: str) -> Finding:
    """Which power meters answer on this board (the profile's first, then every kind)."""
    from otswarm.energy import EnergyError, load_profile
    from otswarm.energy.meters import open_meter

    profile = load_profile(profile_name)
    found, problems = [], []
    for kind in dict.fromkeys((profile.meter.kind, *METER_KINDS)):
        if kind in ("auto", "model", "telemetry"):
            continue
        try:
            meter = open_meter(profile, kind)
            sample = meter.read()
            found.append(f"{kind} ({sample.watts:.2f} W)")
        except (EnergyError, OSError) as exc:
            if isinstance(exc, PermissionError) or "permission" in str(exc).lower():
                problems.append(f"{kind}: {exc}")
    if found:
        return Finding("meters", "ok", ", ".join(found))
    hint = f" ({'; '.join(problems)})" if problems else ""
    return Finding(
        "meters", "warn", f"none found; the ledger uses the {profile.id} power model{hint}"
    )


def check_serial(device: str | None) -> Finding:
    """The microcontroller's serial device: present, and readable and writable by us."""
    if device is None:
        candidates = sorted({p for pattern in SERIAL_PATTERNS for p in glob.glob(pattern)})
        if not candidates:
            return Finding("serial device", "warn", "no serial device found (no MCU attached?)")
        return Finding("serial device", "ok", "found " + ", ".join(candidates))
    if not os.path.exists(device):
        return Finding("serial device", "fail", f"{device} does not exist")
    if not os.access(device, os.R_OK | os.W_OK):
        return Finding(
            "serial device", "fail", f"{device}: no read/write access (add the user to dialout)"
        )
    return Finding("serial device", "ok", f"{device} is readable and writable")


def check_litert(model: str = "harvest") -> Finding:
    """The LiteRT interpreter loads the policy and runs one inference."""
    import numpy as np

    from otswarm.agent.build import load_policy
    from otswarm.errors import PROJECT_ERRORS

    try:
        runtime_name = _interpreter_package()
    except ImportError:
        return Finding("LiteRT", "fail", "neither ai-edge-litert nor tflite-runtime is installed")
    try:
        policy = load_policy(model)
        probs = policy.action_probabilities(np.zeros(policy.observation_size, dtype=np.float32))
    except PROJECT_ERRORS as exc:
        return Finding("LiteRT", "fail", f"{runtime_name}: policy {model!r}: {exc}")
    return Finding(
        "LiteRT", "ok", f"{runtime_name} runs the {model!r} policy ({probs.size} actions)"
    )


def _interpreter_package() -> str:
    for name in ("ai_edge_litert", "tflite_runtime"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return f"{name} {getattr(module, '__version__', '')}".strip()
    raise ImportError("no LiteRT interpreter")


def check_broker(url: str, timeout_s: float = 3.0) -> Finding:
    """The broker at ``url`` accepts an MQTT connection (CONNECT/CONNACK, then DISCONNECT)."""
    import threading
    from urllib.parse import urlparse

    import paho.mqtt.client as mqtt

    parsed = urlparse(url)
    host, port = (
        parsed.hostname or "127.0.0.1",
        parsed.port or (8883 if parsed.scheme == "mqtts" else 1883),
    )
    answered = threading.Event()
    result: list = []

    def on_connect(client, userdata, flags, reason_code, properties):
        result.append(reason_code)
        answered.set()

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"otswarm-doctor-{os.getpid()}"
    )
    client.on_connect = on_connect
    if parsed.scheme == "mqtts":
        client.tls_set()
    try:
        client.connect(host, port, keepalive=10)
    except OSError as exc:
        return Finding("broker", "fail", f"{url}: {exc.strerror or exc}")
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            return Finding("broker", "fail", f"{url}: no CONNACK within {timeout_s:.0f} s")
        if result[0].is_failure:
            return Finding("broker", "fail", f"{url}: refused ({result[0]})")
        return Finding("broker", "ok", f"{url} accepts MQTT connections")
    finally:
        client.disconnect()
        client.loop_stop()
