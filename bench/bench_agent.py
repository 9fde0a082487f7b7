"""Edge fitness of one agent: what a board pays to run ``otswarm agent``.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/bench_agent.py

Prints one JSON document. The agent under test is a real ``otswarm agent``
process (the shipped policy in LiteRT, pyserial on a simulated MCU's pty,
Mosquitto on loopback) at the default rate of one tick per second; the Numba
cache is warmed first, as an install does (docs/deploy.md). Figures:

- ``cold_start``: process start to "running" (config, imports, policy, the OT
  kernels the config calls from the cache, ledger, MCU handshake, broker
  connect), and to the end of the first tick without (``to_first_tick_s``) and with
  (``to_first_tick_wall_s``) the deliberate wait for the middle of the next round
  (``round_wait_s``, 0 to one period), median of 3 starts;
- ``rss_mb``: resident memory of the agent process (the demo's config) once it
  has run ``RSS_AFTER_S`` (60 s) among its peers, and its peak;
- ``cpu_ms_per_tick``: CPU time of the whole process (every thread: loop, link,
  bridge reader, ledger) per tick, and as a share of one core at 1 tick/s;
  ``cpu_ms_per_tick_by_thread`` splits it by thread (the names the agent's
  ``start`` log line gives: ``MainThread`` runs the ticks, ``paho-mqtt-client``
  is the MQTT network thread that takes in every message);
- ``tick_ms``: wall time of one tick (p50, p99) with 16 peers that publish a
  consensus histogram and an energy offer every round, all of them its
  neighbours (``cluster_size`` 17: no groups); the agent under test has the
  smallest id, so it is the allocation planner of all 17;
- ``rss_by_import_mb``: where the resident memory comes from: a fresh interpreter
  imports what the agent imports, in the agent's order, and reads its RSS after
  each step (then, if the demo's config calls OT kernels, Numba and loading them
  from the cache); ``rss_by_import_ot_allocation_mb`` the same with the kernels
  of ``allocation_method = "ot"`` (Sinkhorn), the one stage that loads Numba;
- ``codec``: CPU µs to encode and to decode one 32-bin histogram tagged with the
  swarm HMAC (the wire format of docs/wire-format.md), and their sum, against
  HMAC-SHA256 of the same bytes alone, in the same run.

Ratios are against the tick period (the budget the board gives one tick), the
codec's against the HMAC alone; ``targets`` are issue #14's and ``meets`` says
which figures are within them.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.bench_link import HEADER, HIST, KEY, cpu_us  # noqa: E402
from otswarm.demo.configs import write_agent_config  # noqa: E402
from otswarm.firmware_bridge.simulator.pty_server import start_simulator_on_pty  # noqa: E402
from otswarm.link.broker import EmbeddedBroker  # noqa: E402

PERIOD_S = 1.0  # the agent's default tick period
PEERS = 16
TICKS = 50  # ticks of the CPU and latency figures (inside the 60 s the memory figure waits)
RSS_AFTER_S = 60.0  # the agent's age when its resident memory is read, s
TARGETS = {  # issue #14
    "rss_mb": 150.0,
    "tick_ms_p99": 5.0,
    "cpu_ms_per_tick": 14.3,  # no worse than before
    "codec_us": 10.0,
    "to_first_tick_s": 0.5,
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _spawn(config: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "otswarm.cli", "agent", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=env,
    )


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _wait(predicate, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the agent did not get there in time")
        time.sleep(0.005)


def _stat_cpu_s(path: Path) -> float:
    fields = path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _cpu_s(pid: int) -> float:
    return _stat_cpu_s(Path(f"/proc/{pid}/stat"))


def _thread_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of ``pid`` so far, by the kernel's thread id."""
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            times[int(task.name)] = _stat_cpu_s(task / "stat")
        except OSError:  # the thread ended meanwhile
            continue
    return times


def _per_thread_ms(before: dict, after: dict, names: dict[str, int], ticks: int) -> dict:
    """CPU ms per tick of each named thread (names from the agent's ``start`` line;
    paho's network thread is named after its client id); the rest as ``other``."""
    label = {tid: name.split("-otswarm-")[0] for name, tid in names.items()}
    spent: dict[str, float] = {}
    for tid, seconds in after.items():
        name = label.get(tid, "other")
        spent[name] = spent.get(name, 0.0) + seconds - before.get(tid, 0.0)
    return {name: round(s / ticks * 1000, 2) for name, s in sorted(spent.items())}


def _kb_fields(path: str) -> dict[str, float]:
    """``Name: <n> kB`` lines of a /proc file, in MB."""
    fields = {}
    for line in Path(path).read_text().splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def _rss_mb(pid: int) -> dict[str, float]:
    """Resident memory, its peak, and its anonymous part (heap, stacks, the JIT's code:
    the process's own) against the file-backed rest (mapped libraries: shared with
    other processes that map them, and dropped by the kernel under memory pressure)."""
    status, rollup = _kb_fields(f"/proc/{pid}/status"), _kb_fields(f"/proc/{pid}/smaps_rollup")
    return {
        "rss_mb": round(status["VmRSS"], 1),
        "rss_peak_mb": round(status["VmHWM"], 1),
        "rss_anonymous_mb": round(rollup["Anonymous"], 1),
        "rss_file_backed_mb": round(rollup["Rss"] - rollup["Anonymous"], 1),
    }


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def cold_start(folder: Path, device: str, url: str) -> dict:
    """Seconds from process start to "running" and to the first tick, median of 3 starts.

    The agent ticks in the middle of a round, so after "running" its first tick
    waits for the next one (``round_wait_s``, 0 to one period, by design: rounds are
    on the wall clock). ``to_first_tick_s`` is start to the end of the first tick
    without that wait (running + the first tick itself), ``to_first_tick_wall_s``
    with it.
    """
    ready, waits, ticks, walls = [], [], [], []
    for attempt in range(3):
        agent_dir = folder / f"cold-{attempt}"
        config = write_agent_config(agent_dir, f"cold-{attempt}", 0, device, url, PERIOD_S, 8, 16)
        began = time.time()
        process = _spawn(config)
        log, record = agent_dir / "agent.log", agent_dir / "run.jsonl"
        _wait(lambda: any(e.get("event") == "start" for e in _lines(log)))  # noqa: B023
        _wait(lambda: bool(_lines(record)))  # noqa: B023
        running = _iso_to_unix(next(e for e in _lines(log) if e.get("event") == "start")["ts"])
        first = _lines(record)[0]
        ready.append(running - began)
        waits.append(first["t"] - running)
        ticks.append(first["tick_s"])
        walls.append(first["t"] + first["tick_s"] - began)
        _stop(process)
    median = statistics.median
    return {
        "to_running_s": median(ready),
        "round_wait_s": median(waits),
        "first_tick_s": median(ticks),
        "to_first_tick_s": median(r + t for r, t in zip(ready, ticks, strict=True)),
        "to_first_tick_wall_s": median(walls),
    }


def _iso_to_unix(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


class Peers:
    """16 coordinators on their own MQTT links, one consensus round per period.

    They stand in for 16 other boards: each publishes its consensus histogram and
    its energy offer every round and takes part in the allocation (offers, the
    planner's plans, transfer reports), but none listens to the others'
    histograms (``neighbours=()``): their consensus is not under test, and in a
    swarm each runs on its own board. (Taking in 256 histograms a second in this
    one process loaded the two cores the agent under test shares.)
    """

    def __init__(self, url: str, support) -> None:
        from otswarm.coordination.exchange import AlignmentExchange
        from otswarm.coordination.rounds import AllocationRound
        from otswarm.link.mqtt import MqttLink
        from otswarm.link.mqtt_config import MqttLinkConfig

        self.rng = np.random.default_rng(0)
        self.coordinators = []
        for i in range(PEERS):
            config = MqttLinkConfig(broker_url=url, swarm="demo", agent=f"peer-{i:02d}")
            link = MqttLink(config)
            alignment = AlignmentExchange(link, support, support_id=1, neighbours=()).start()
            self.coordinators.append((alignment, AllocationRound(link).start()))
            link.start()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(PERIOD_S - (time.time() % PERIOD_S) + 0.25 * PERIOD_S):
            r = int(time.time() // PERIOD_S)
            for alignment, allocation in self.coordinators:
                alignment.align(self.rng.dirichlet(np.ones(alignment.levels.size)))
                supply, demand = self.rng.uniform(0, 50, size=2) * (self.rng.random(2) < 0.5)
                alignment.round(r)
                decided = allocation.decide(r, float(supply), float(demand))
                allocation.publish(decided, decided.send.joules if decided.send else 0.0)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for alignment, _ in self.coordinators:
            alignment.link.close()


def with_peers(folder: Path, device: str, url: str, support) -> dict:
    """RSS, CPU per tick and tick latency of an agent among 16 peers at 1 tick/s."""
    peers = Peers(url, support)
    peers.thread.start()
    agent_dir = folder / "a-00"
    # cluster_size above the swarm: the agent aligns with all 16 peers (no groups)
    config = write_agent_config(agent_dir, "a-00", 0, device, url, PERIOD_S, 8, 16, PEERS + 1)
    spawned = time.monotonic()
    process = _spawn(config)
    record = agent_dir / "run.jsonl"
    try:
        _wait(lambda: len(_lines(record)) >= 5)
        cpu0, threads0, n0 = _cpu_s(process.pid), _thread_cpu_s(process.pid), len(_lines(record))
        _wait(lambda: len(_lines(record)) >= n0 + TICKS, timeout_s=TICKS * 3)
        cpu1, threads1, n1 = _cpu_s(process.pid), _thread_cpu_s(process.pid), len(_lines(record))
        time.sleep(max(0.0, RSS_AFTER_S - (time.monotonic() - spawned)))
        memory = _rss_mb(process.pid)
        rss_age_s = time.monotonic() - spawned
    finally:
        _stop(process)
        peers.close()
    ticks = _lines(record)[n0:n1]
    tick_ms = np.array([t["tick_s"] for t in ticks]) * 1000
    cpu_ms = (cpu1 - cpu0) / (n1 - n0) * 1000
    started = next(e for e in _lines(agent_dir / "agent.log") if e.get("event") == "start")
    heard = [t["peers"] for t in ticks]
    return {
        **memory,
        "rss_at_age_s": round(rss_age_s, 1),
        "cpu_ms_per_tick": round(cpu_ms, 2),
        "cpu_share_of_one_core": round(cpu_ms / 1000 / PERIOD_S, 4),
        "cpu_ms_per_tick_by_thread": _per_thread_ms(
            threads0, threads1, started["threads"], n1 - n0
        ),
        "tick_ms_p50": round(float(np.percentile(tick_ms, 50)), 2),
        "tick_ms_p99": round(float(np.percentile(tick_ms, 99)), 2),
        "tick_p99_share_of_period": round(float(np.percentile(tick_ms, 99)) / 1000 / PERIOD_S, 4),
        "ticks": len(ticks),
        "peers_heard_median": statistics.median(heard),
        "planned_rounds": sum(1 for t in ticks if t["planner"] == "a-00"),
        "tick_errors": sum(len(t["errors"]) for t in ticks),
    }


# what the agent imports, in its order (cli -> config -> build -> policy; then, on its
# kernel thread, Numba and the OT kernels its config calls, from the Numba cache);
# memory is not timing: the machine's load does not change it
IMPORT_STEPS = (
    "numpy",
    "otswarm.agent.config",
    "otswarm.agent.build",
    "ai_edge_litert.interpreter",
)
KERNEL_STEPS = ("numba", "otswarm.ot")  # only when the config calls a kernel
OT_ALLOCATION_KERNELS = ("sinkhorn", "sinkhorn_unbalanced")  # allocation_method = "ot"
_RSS_SCRIPT = """
import importlib, json, sys
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'):
            return int(line.split()[1]) / 1024
steps = [['python', rss()]]
kernels, names = [k for k in sys.argv[1].split(',') if k], sys.argv[2:]
for name in names:
    importlib.import_module(name)
    steps.append([name, rss()])
if kernels:
    import otswarm.ot
    otswarm.ot.warmup(kernels)
    steps.append(['otswarm.ot.warmup(' + ', '.join(kernels) + ')', rss()])
print(json.dumps(steps))
"""


def rss_by_import(kernels: tuple[str, ...]) -> dict:
    """RSS (MB) of a fresh interpreter after each of :data:`IMPORT_STEPS`, then (when
    ``kernels`` is not empty) Numba, ``otswarm.ot`` and loading ``kernels`` from the
    cache, and each step's share."""
    steps = IMPORT_STEPS + (KERNEL_STEPS if kernels else ())
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, ",".join(kernels), *steps],
        capture_output=True, text=True, check=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout  # fmt: skip
    steps = json.loads(out)
    result, before = {}, 0.0
    for name, rss in steps:
        result[name] = {"rss_mb": round(rss, 1), "added_mb": round(rss - before, 1)}
        before = rss
    return result


def codec() -> dict:
    """CPU µs of encode, decode and both of one HMAC-tagged 32-bin histogram, and of
    HMAC-SHA256 alone over the same bytes (the part the wire format cannot shed); and
    the parts of the round trip (``parts_us``: the profile of where its time goes).

    The parts nest: ``encode`` is ``pack_header`` + ``encode_body_32`` (which holds
    ``quantize_32``) + ``make_tag`` + its own dispatch and joins; ``decode`` is
    ``read_header`` + ``tag_matches`` + ``decode_body_32`` (which holds
    ``dequantize_32`` and ``from_wire_32``) + its own checks and the Envelope."""
    import hashlib
    import hmac

    from otswarm.summaries import Histogram, Kind, decode, encode
    from otswarm.summaries.auth import make_tag, tag_matches
    from otswarm.summaries.bodies import decode_body, encode_body
    from otswarm.summaries.header import pack_header, read_header
    from otswarm.summaries.quantize import dequantize_weights, quantize_weights
    from otswarm.summaries.reader import U16, PayloadReader

    payload = encode(HIST, key=KEY, **HEADER)
    assert decode(payload, key=KEY).message.weights.size == 32
    encode_us = cpu_us(lambda: encode(HIST, key=KEY, **HEADER))
    decode_us = cpu_us(lambda: decode(payload, key=KEY))
    both_us = cpu_us(lambda: decode(encode(HIST, key=KEY, **HEADER), key=KEY))
    hmac_us = cpu_us(lambda: hmac.digest(KEY, payload, hashlib.sha256))
    h = HEADER
    weights = np.frombuffer(quantize_weights(HIST.weights), U16)
    dequantized = dequantize_weights(weights, None)
    body_start = len(payload) - len(encode_body(HIST)) - 16
    signed, tag = payload[:-16], payload[-16:]

    def body() -> Histogram:
        reader = PayloadReader(payload, end=len(payload) - 16)
        reader.offset = body_start
        return decode_body(Kind.HISTOGRAM, reader)

    parts = {
        "pack_header": cpu_us(
            lambda: pack_header(
                Kind.HISTOGRAM, h["agent"], h["round"], h["sequence"], h["timestamp_us"], 0, 1
            )
        ),
        "encode_body_32": cpu_us(lambda: encode_body(HIST)),
        "quantize_32": cpu_us(lambda: quantize_weights(HIST.weights)),
        "make_tag": cpu_us(lambda: make_tag(KEY, signed)),
        "read_header": cpu_us(lambda: read_header(PayloadReader(payload))),
        "tag_matches": cpu_us(lambda: tag_matches(KEY, signed, tag)),
        "decode_body_32": cpu_us(body),
        "dequantize_32": cpu_us(lambda: dequantize_weights(weights, None)),
        "from_wire_32": cpu_us(lambda: Histogram.from_wire(dequantized, 0.0, 1.0, 1)),
    }
    return {
        "bytes": len(payload),
        "encode_us": encode_us,
        "decode_us": decode_us,
        "codec_us": both_us,
        "hmac_sha256_us": hmac_us,
        "ratio_codec_to_hmac": round(both_us / hmac_us, 1),
        "parts_us": parts,
    }


def main() -> int:
    import otswarm.ot
    from otswarm.agent.build import agent_kernels, load_policy
    from otswarm.agent.config import load_config

    warm_s = otswarm.ot.warmup()
    wire = codec()
    support = list(load_policy("harvest").action_values)
    with TemporaryDirectory(prefix="otswarm-bench-agent-") as tmp, EmbeddedBroker() as broker:
        # the MCU is its own chip: its simulator runs in its own process (in this one,
        # its answers to the agent waited for the GIL of the 16 peers' links)
        device, simulator = start_simulator_on_pty(time_acceleration=60.0)
        try:
            started = cold_start(Path(tmp), device, broker.url)
            loaded = with_peers(Path(tmp), device, broker.url, support)
            config = write_agent_config(Path(tmp) / "rss", "rss", 0, device, broker.url,
                                        PERIOD_S, 8, 16)  # fmt: skip
            imports = rss_by_import(agent_kernels(load_config(config)))
            imports_ot = rss_by_import(OT_ALLOCATION_KERNELS)
        finally:
            simulator.stop()
    result = {
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        "period_s": PERIOD_S,
        "peers": PEERS,
        "numba_warmup_s": round(warm_s, 2),
        "cold_start": {k: round(v, 3) for k, v in started.items()},
        **loaded,
        "codec": wire,
        "rss_by_import_mb": imports,
        "rss_by_import_ot_allocation_mb": imports_ot,
    }
    figures = {**result["cold_start"], **loaded, "codec_us": wire["codec_us"]}
    result["targets"] = TARGETS
    result["meets"] = {name: figures[name] <= limit for name, limit in TARGETS.items()}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
