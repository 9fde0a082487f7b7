"""Fleet telemetry: what it costs a board, and how fast one viewer takes in a fleet.

    python bench/bench_fleet.py [--agents 1000] [--rounds 5]

Prints one JSON document:

* ``payload_bytes``: a signed telemetry message of a board with the eight
  standard ledger components, against a signed heartbeat (the reference every
  agent already sends every ``heartbeat_s``): ``ratio_to_heartbeat``;
* ``board_cost``: per bundled board profile, the joules a day its telemetry
  costs on the radio at the default ``telemetry_s`` (payload bytes x the
  profile's tx J/byte), against the joules a day of its idle baseline
  (``share_of_idle``), and the same for the default heartbeat;
* ``viewer_ingest``: ``--agents`` agents' signed telemetry, ``--rounds``
  rounds of it, fed to one :class:`~otswarm.fleet.state.FleetState` (decode,
  HMAC, replay window, membership, latest value): messages per second, against
  bare ``decode`` of the same payloads in the same run (``ratio_to_decode``;
  the two are timed interleaved, best of 5);
* ``snapshot_ms`` and ``metrics_ms``: one JSON snapshot and one OpenMetrics
  scrape of that fleet, against ``json.dumps`` of the snapshot (the reference).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from otswarm.energy import load_profile  # noqa: E402
from otswarm.energy.profile import list_profiles  # noqa: E402
from otswarm.fleet.metrics import FleetCollector  # noqa: E402
from otswarm.fleet.snapshot import snapshot  # noqa: E402
from otswarm.fleet.state import FleetState  # noqa: E402
from otswarm.summaries import Heartbeat, Telemetry, decode, encode  # noqa: E402

KEY = b"bench-swarm-key-0123"
COMPONENTS = ("ot", "policy", "mqtt_tx", "mqtt_rx", "serial", "idle", "energy_in", "energy_out")
TELEMETRY_S = 10.0  # the [agent].telemetry_s default
HEARTBEAT_S = 2.0  # the [link].heartbeat_s default
DAY_S = 86_400.0


def telemetry(k: int) -> Telemetry:
    joules = {c: 1000.0 * (i + 1) + k for i, c in enumerate(COMPONENTS)}
    return Telemetry(TELEMETRY_S, 3600.0 + k, 2.9, joules, battery_soc=0.6, duty=0.5,
                     alignment_w1=0.01, drift_w1=0.05, plans_executed=k,
                     policy_sha256=bytes(32), board="rpi4")  # fmt: skip


def payload(message, agent: str, seq: int) -> bytes:
    return encode(message, agent=agent, round=seq, sequence=seq, timestamp_us=10**15 + seq,
                  key=KEY)  # fmt: skip


def best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - began)
    return best


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    agent = "pi-garden-01"  # a 12-character id, as in docs/agent.example.toml
    tele_bytes = len(payload(telemetry(0), agent, 1))
    beat_bytes = len(payload(Heartbeat(HEARTBEAT_S, 0.6), agent, 1))
    cost = {}
    for name in list_profiles():
        profile = load_profile(name)
        per_day = {
            "telemetry_j_per_day": tele_bytes * DAY_S / TELEMETRY_S * profile.radio_tx_j_per_byte,
            "heartbeat_j_per_day": beat_bytes * DAY_S / HEARTBEAT_S * profile.radio_tx_j_per_byte,
        }
        idle = profile.idle_w * DAY_S
        cost[name] = {
            **{k: round(v, 4) for k, v in per_day.items()},
            "idle_j_per_day": round(idle, 1),
            "telemetry_share_of_idle": float(f"{per_day['telemetry_j_per_day'] / idle:.3g}"),
        }

    ids = [f"board-{i:05d}" for i in range(args.agents)]
    topics = [f"otswarm/v1/bench/{a}/telemetry" for a in ids]
    batch = [
        (topics[i], payload(telemetry(r), ids[i], r + 1))
        for r in range(args.rounds)
        for i in range(args.agents)
    ]
    holder: dict = {}

    def ingest() -> None:
        state = FleetState(KEY)
        for topic, data in batch:
            state.receive(topic, data)
        holder["state"] = state

    def bare() -> None:
        for _, data in batch:
            decode(data, key=KEY)

    ingest_s = decode_s = float("inf")
    for _ in range(5):  # interleaved, best of 5: a shared machine's load hits both alike
        ingest_s, decode_s = min(ingest_s, best_of(ingest, 1)), min(decode_s, best_of(bare, 1))
    state = holder["state"]
    assert state.accepted == len(batch) and state.dropped == 0
    snap_s = best_of(lambda: snapshot(state, "bench"))
    snap = snapshot(state, "bench")
    dumps_s = best_of(lambda: json.dumps(snap))
    from prometheus_client import generate_latest
    from prometheus_client.registry import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(state, "bench"))
    scrape_s = best_of(lambda: generate_latest(registry))
    return {
        "payload_bytes": {
            "telemetry_signed": tele_bytes,
            "heartbeat_signed": beat_bytes,
            "ratio_to_heartbeat": round(tele_bytes / beat_bytes, 2),
            "agent_id_chars": len(agent),
        },
        "board_cost": cost,
        "viewer_ingest": {
            "agents": args.agents,
            "messages": len(batch),
            "messages_per_s": round(len(batch) / ingest_s),
            "decode_only_per_s": round(len(batch) / decode_s),
            "ratio_to_decode": round(ingest_s / decode_s, 2),
        },
        "snapshot_ms": round(snap_s * 1e3, 2),
        "json_dumps_ms": round(dumps_s * 1e3, 2),
        "snapshot_ratio_to_json_dumps": round(snap_s / dumps_s, 2),
        "metrics_ms": round(scrape_s * 1e3, 2),
        "metrics_bytes": len(generate_latest(registry)),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
