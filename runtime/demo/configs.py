"""Write each demo agent's TOML config (the same file format a board uses)."""

from __future__ import annotations

import json
from pathlib import Path


def _toml_value(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))  # a TOML basic string is a JSON string for these values


def to_toml(tables: dict[str, dict]) -> str:
    """TOML text of ``{table: {key: scalar}}`` (None values are left out)."""
    lines = []
    for name, table in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
        lines.append("")
    return "\n".join(lines)


def write_agent_config(
    folder: Path,
    agent_id: str,
    index: int,
    device: str,
    broker_url: str,
    tick_period_s: float,
    boot_hour: float,
    drift_window: int,
    cluster_size: int = 8,
    battery_capacity_j: float | None = None,
    telemetry_s: float | None = None,
) -> Path:
    """``folder/agent.toml`` for one demo agent; its record and log go in ``folder``, its
    ledger next to the other agents' in ``folder``'s parent (the run folder).
    ``telemetry_s`` None leaves the agent's default (10 s)."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "agent": {
            "id": agent_id,
            "swarm": "demo",
            "tick_period_s": tick_period_s,
            "telemetry_s": telemetry_s,
            "log_file": folder / "agent.log",
            "record_file": folder / "run.jsonl",
            "seed": index,
        },
        "link": {"url": broker_url, "heartbeat_s": max(tick_period_s, 0.5)},
        "bridge": {
            "device": device,
            "clock": "mcu",
            "mcu_boot_hour": boot_hour,
            "battery_capacity_j": battery_capacity_j,
        },
        "policy": {"model": "harvest"},
        "energy": {"ledger_dir": folder.parent, "profile": "rpi4"},
        "coordination": {
            # the demo shows every capability at work (DESIGN.md: it runs alignment,
            # allocation and drift handling), so it switches on what the agent's
            # defaults leave off (docs/coordination.md, "Defaults")
            "alignment": True,
            "drift": True,
            "drift_window": drift_window,
            "cluster_size": cluster_size,
            "position_m": [10.0 * (index % 3), 10.0 * (index // 3), 0.0],
        },
    }
    path = folder / "agent.toml"
    path.write_text(to_toml(tables), encoding="utf-8")
    return path
