"""A flood of distinct sender ids against a real agent: memory and tick time, before,
during and after.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/bench_flood.py [--ids 40000]

Prints one JSON document. One Mosquitto on loopback, two real ``otswarm agent``
processes (mains boards, 0.5 s ticks, ``max_heartbeat_period_s = 1``, the default
``max_members = 4096``); a bare paho client publishes one heartbeat (announced
period 3e38 s) from each of ``--ids`` distinct ids, as fast as it can, QoS 0.
Figures for the agent under test: resident memory (RSS) before, at its peak and
10 s after the flood; tick time p50/p99 (the ``tick_s`` of its run record) over
the 40 ticks before the flood (the reference, same run), the ticks from the flood
until the membership is back to the two real agents, and the 40 ticks after
that; ``members_alive`` at its peak and after; the ratios against the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from otswarm.link.broker import EmbeddedBroker  # noqa: E402
from otswarm.summaries import Heartbeat, encode  # noqa: E402

TICK_S = 0.5


def start_agent(folder: Path, agent: str, url: str) -> subprocess.Popen:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agent.toml").write_text(
        f'[agent]\nid = "{agent}"\nswarm = "flood"\ntick_period_s = {TICK_S}\n'
        f'record_file = "{folder / "run.jsonl"}"\nlog_file = "{folder / "agent.log"}"\n'
        f'[link]\nurl = "{url}"\nheartbeat_s = {TICK_S}\nmax_heartbeat_period_s = 1.0\n'
        f'[energy]\nledger_dir = "{folder.parent}"\n'
    )
    return subprocess.Popen(
        [sys.executable, "-m", "otswarm.cli", "agent", "--config", str(folder / "agent.toml")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def records(folder: Path) -> list[dict]:
    path = folder / "run.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def wait_for(folder: Path, check, start: int = 0, timeout_s: float = 120) -> int:
    """Index of the first record from index ``start`` on for which ``check`` holds."""
    deadline, seen = time.monotonic() + timeout_s, start
    while time.monotonic() < deadline:
        got = records(folder)
        for index in range(seen, len(got)):
            if check(got[index]):
                return index
        seen = max(seen, len(got))
        time.sleep(0.05)
    raise SystemExit(f"{folder.name}: timed out")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise SystemExit("no VmRSS")


def ticks_ms(rows: list[dict]) -> dict:
    ms = np.array([r["tick_s"] for r in rows if r.get("tick_s") is not None]) * 1e3
    p50, p99 = np.percentile(ms, [50, 99])
    return {"p50": round(float(p50), 2), "p99": round(float(p99), 2), "n": int(ms.size)}


def flood(broker: EmbeddedBroker, ids: int) -> float:
    """Publish one heartbeat from each of ``ids`` ids; the seconds it took."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    start = time.perf_counter()
    session = int(time.time())
    for i in range(ids):
        payload = encode(Heartbeat(3e38, 0.5), agent=f"f{i:05d}", round=0, sequence=1,
                         timestamp_us=int(time.time() * 1e6), session=session)  # fmt: skip
        client.publish(f"otswarm/v1/flood/f{i:05d}/heartbeat", payload, qos=0)
    client.publish("otswarm/v1/flood/end/heartbeat", b"", qos=1).wait_for_publish(60)
    took = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=40_000)
    args = parser.parse_args()
    run = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    with EmbeddedBroker(prefer="mosquitto") as broker:
        agents = {a: start_agent(run / a, a, broker.url) for a in ("a0", "a1")}
        folder, pid = run / "a1", agents["a1"].pid
        try:
            start = wait_for(folder, lambda r: r["members_alive"] == 2)
            base_end = start + 40
            wait_for(folder, lambda r: True, base_end)
            before = records(folder)[base_end - 40 : base_end]
            rss_before = rss_mb(pid)
            peak = [rss_before]
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(0.1):
                    peak[0] = max(peak[0], rss_mb(pid))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            flood_from = len(records(folder))
            publish_s = flood(broker, args.ids)
            flooded = wait_for(folder, lambda r: r["members_alive"] > 2, flood_from)
            recovered = wait_for(folder, lambda r: r["members_alive"] == 2, flooded)
            after_end = recovered + 40
            wait_for(folder, lambda r: True, after_end)
            time.sleep(max(0.0, 10 - 40 * TICK_S))
            stop.set()
            sampler.join()
            rows = records(folder)
            during, after = rows[flood_from:recovered], rows[recovered + 1 : after_end + 1]
            reference = ticks_ms(before)
            result = {
                "ids": args.ids,
                "publish_s": round(publish_s, 2),
                "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
                "rss_mb": {"before": rss_before, "peak": peak[0], "after": rss_mb(pid)},
                "members_alive": {
                    "peak": max(r["members_alive"] for r in during),
                    "after": after[-1]["members_alive"],
                },
                "recovery_ticks": recovered - flood_from,
                "tick_ms": {
                    "before": reference,
                    "during": ticks_ms(during),
                    "after": ticks_ms(after),
                },
            }
            result["tick_p99_ratio"] = {
                "during": round(result["tick_ms"]["during"]["p99"] / reference["p99"], 2),
                "after": round(result["tick_ms"]["after"]["p99"] / reference["p99"], 2),
            }
        finally:
            for process in agents.values():
                process.send_signal(signal.SIGTERM)
            for process in agents.values():
                process.wait(timeout=30)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
