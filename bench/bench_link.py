"""Swarm link through Mosquitto on loopback: throughput, latency, bytes per summary.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/bench_link.py [--clients 10 100 300]

Prints one JSON document. For each swarm size N (all N MqttLinks live in this
process, each with its own paho network thread, MQTT 5, HMAC-signed 32-bin
histograms, QoS 1):

* ``throughput``: every client publishes K histograms as fast as it can to one
  collector (a cluster head); publish rate, receive rate at the collector, and
  the fraction delivered (QoS 1: must be 1.0);
* ``broadcast_latency_ms``: the collector publishes one histogram to all N
  clients (20 times, 50 ms apart); time from publish to each client's handler;
* ``rtt_ms``: ping-pong of an energy offer between one client and the collector
  (publish -> broker -> handler -> publish -> broker -> handler), 200 in a row,
  against the same ping-pong between two bare paho clients with payloads of the
  same size, with paho's default socket and with TCP_NODELAY as MqttLink uses
  (``rtt_ratio_to_paho`` = otswarm / bare paho with TCP_NODELAY, p50).

Also: encode+decode cost of one tagged histogram, and bytes per summary on the
wire (payload, and the whole MQTT 5 PUBLISH packet); and what per-agent Ed25519
signatures cost (``identity``): sign and verify of one 32-bin histogram payload
(µs, CPU time), encode+decode with a signature against the same with the HMAC
tag in the same run, and the share of one Raspberry Pi 4 core an agent spends
on them with 16 peers (CPU time here taken as Pi core time, as the ledger's
model meter prices it, and the watts that is at the profile's ``per_core_w``;
a Cortex-A72 does fewer operations per cycle, so read the share as a floor).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time
import timeit
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from otswarm.energy import load_profile  # noqa: E402
from otswarm.identity import Roster, generate_private_key, sign, verify  # noqa: E402
from otswarm.link import MqttLink, MqttLinkConfig  # noqa: E402
from otswarm.link.broker import EmbeddedBroker, free_port, mosquitto_config  # noqa: E402
from otswarm.link.topics import topic  # noqa: E402
from otswarm.summaries import EnergyOffer, Heartbeat, Histogram, Kind, State, decode, encode  # noqa: E402

KEY = b"bench-swarm-key-0123"
HIST = Histogram(np.random.default_rng(0).dirichlet(np.ones(32)), 0.0, 1.0, 1)
OFFER = EnergyOffer(3.0, 1.0, (1.0, 2.0, 0.0), 0.05, 1)
# messages an agent receives per second from each peer at a 1 s round: histogram 1,
# energy offer 1, heartbeat 0.5 (every 2 s), telemetry 0.1 (every 10 s), plans 1 (from
# the planner only: counted once for the whole swarm below)
PEER_MSGS_PER_S = 1 + 1 + 0.5 + 0.1
PEERS = 16
# a collector receives N x K messages in a burst: let Mosquitto queue them all
# (its default max_queued_messages of 1000 per client drops QoS 1 beyond that)
BROKER_EXTRA = "max_queued_messages 0\n"


def percentiles(samples_s: list[float]) -> dict:
    ms = np.asarray(samples_s) * 1e3
    p50, p99 = np.percentile(ms, [50, 99]) if ms.size else (float("nan"), float("nan"))
    return {"p50": round(float(p50), 3), "p99": round(float(p99), 3), "n": int(ms.size)}


def link(url: str, swarm: str, agent: str) -> MqttLink:
    config = MqttLinkConfig(url, swarm, agent, hmac_key=KEY, heartbeat_period_s=600.0)
    return MqttLink(config, track_members=False).start(timeout=60)


def throughput(clients: list[MqttLink], collector: MqttLink, per_client: int) -> dict:
    total = len(clients) * per_client
    received = [0]
    done = threading.Event()

    def count(_envelope) -> None:
        received[0] += 1
        if received[0] == total:
            done.set()

    collector.on(Kind.HISTOGRAM, count)
    collector.wait_ready(30)
    start = time.perf_counter()
    for _ in range(per_client):
        for client in clients:
            client.publish(HIST)
    published = time.perf_counter() - start
    seen = -1
    while not done.wait(timeout=5) and received[0] != seen:  # stop when no progress for 5 s
        seen = received[0]
    elapsed = time.perf_counter() - start
    return {
        "messages": total,
        "publish_msgs_per_s": round(total / published, 1),
        "receive_msgs_per_s": round(received[0] / elapsed, 1),
        "delivered_fraction": round(received[0] / total, 6),
    }


def broadcast(clients: list[MqttLink], collector: MqttLink, rounds: int = 20) -> dict:
    sent_at: dict[int, float] = {}
    samples: list[float] = []
    lock = threading.Lock()

    def arrived(envelope) -> None:
        now = time.perf_counter()
        with lock:
            samples.append(now - sent_at[envelope.header.sequence])

    for client in clients:
        client.on(Kind.HISTOGRAM, arrived, sender=collector.agent)
    for client in clients:
        client.wait_ready(30)
    for _ in range(rounds):
        with lock:  # handlers wait for the lock, so sent_at is filled before they read it
            start = time.perf_counter()
            sent_at[collector.publish(HIST)] = start
        time.sleep(0.05)
    deadline = time.monotonic() + 30
    while len(samples) < rounds * len(clients) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {**percentiles(samples), "delivered_fraction": len(samples) / (rounds * len(clients))}


def ping_pong(send, replies: threading.Event, n: int = 200) -> list[float]:
    """Round-trip times of ``n`` pings in a row (a ping without reply in 5 s ends the run)."""
    samples = []
    for _ in range(n):
        replies.clear()
        start = time.perf_counter()
        send()
        if not replies.wait(5):
            print(f"# ping lost after {len(samples)} replies", file=sys.stderr)
            break
        samples.append(time.perf_counter() - start)
    return samples


def rtt_link(client: MqttLink, collector: MqttLink) -> list[float]:
    replies = threading.Event()
    collector.on(Kind.ENERGY_OFFER, lambda e: collector.publish(OFFER), sender=client.agent)
    client.on(Kind.ENERGY_OFFER, lambda e: replies.set(), sender=collector.agent)
    collector.wait_ready(30)
    client.wait_ready(30)
    return ping_pong(lambda: client.publish(OFFER), replies)


def rtt_paho(broker: EmbeddedBroker, size: int, nodelay: bool) -> list[float]:
    """The same ping-pong between two bare paho clients (no codec, no HMAC), with
    paho's default socket (Nagle on) or with TCP_NODELAY as MqttLink sets it."""
    payload = os.urandom(size)
    replies = threading.Event()
    ready = threading.Barrier(3)
    clients = []
    for listen, answer in (("pong", None), ("ping", "pong")):
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if answer:
            client.on_message = lambda c, u, m, to=f"bench/{answer}": c.publish(to, payload, qos=1)
        else:
            client.on_message = lambda c, u, m: replies.set()
        client.on_subscribe = lambda *a: ready.wait()
        if nodelay:
            client.on_socket_open = lambda c, u, sock: sock.setsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
            )
        client.connect(broker.host, broker.port)
        client.loop_start()
        client.subscribe(f"bench/{listen}", qos=1)
        clients.append(client)
    ready.wait()
    try:
        return ping_pong(lambda: clients[0].publish("bench/ping", payload, qos=1), replies)
    finally:
        for client in clients:
            client.loop_stop()
            client.disconnect()


def wire_sizes() -> dict:
    """Payload and whole MQTT 5 PUBLISH (QoS 1) bytes, agent ``c042``, swarm ``bench``."""
    header = HEADER
    sizes = {}
    kinds = {"histogram_32": HIST, "energy_offer": OFFER, "heartbeat": Heartbeat(5.0, 0.5),
             "state": State(True, 5.0)}  # fmt: skip
    for name, message in kinds.items():
        payload = len(encode(message, key=KEY, **header))
        topic_len = len(topic("bench", "c042", message.KIND))
        # fixed header 1 + remaining length 1..2, topic 2 + len, packet id 2, properties 1
        remaining = 2 + topic_len + 2 + 1 + payload
        sizes[name] = {
            "payload": payload,
            "mqtt_publish": 1 + (1 if remaining < 128 else 2) + remaining,
        }
    return sizes


HEADER = {"agent": "c042", "round": 1, "sequence": 1, "timestamp_us": 1_800_000_000_000_000}


def cpu_us(call, n: int = 2000) -> float:
    """CPU microseconds per ``call()``: best of 5 runs of ``n`` (CPU time, so other
    processes on the machine inflate it less than wall time)."""
    return round(min(timeit.repeat(call, number=n, repeat=5, timer=time.process_time)) / n * 1e6, 2)


def codec_cost_us() -> float:
    payload = encode(HIST, key=KEY, **HEADER)
    assert decode(payload, key=KEY).header.agent == "c042"
    return cpu_us(lambda: decode(encode(HIST, key=KEY, **HEADER), key=KEY))


def identity_cost() -> dict:
    """Per-message cost of per-agent Ed25519 signatures, against the HMAC tag in the same run."""
    key = generate_private_key()
    roster = Roster("bench", 1, {"c042": key.public_key()})
    data = encode(HIST, key=KEY, **HEADER)
    signature = sign(key, data)
    public = key.public_key()
    signed = encode(HIST, signer=key, **HEADER)
    assert decode(signed, roster=roster).header.agent_signed
    sign_us = cpu_us(lambda: sign(key, data))
    verify_us = cpu_us(lambda: verify(public, data, signature))
    tagged_us = cpu_us(lambda: decode(encode(HIST, key=KEY, **HEADER), key=KEY))
    signed_us = cpu_us(lambda: decode(encode(HIST, signer=key, **HEADER), roster=roster))
    profile = load_profile("rpi4")
    received = PEERS * PEER_MSGS_PER_S + 1  # + the planner's plan
    sent = PEER_MSGS_PER_S + 1 / (PEERS + 1)  # its own, and its turn at planning
    share = (received * verify_us + sent * sign_us) / 1e6
    return {
        "sign_us": sign_us,
        "verify_us": verify_us,
        "histogram_encode_decode_hmac_us": tagged_us,
        "histogram_encode_decode_ed25519_us": signed_us,
        "ratio_ed25519_to_hmac": round(signed_us / tagged_us, 2),
        "pi4_16_peers": {
            "received_msgs_per_s": round(received, 2),
            "sent_msgs_per_s": round(sent, 3),
            "core_share_percent": round(100 * share, 3),
            "watts": round(share * profile.per_core_w, 5),
        },
    }


def run_size(broker: EmbeddedBroker, n: int) -> dict:
    swarm = f"bench{n}"
    clients = [link(broker.url, swarm, f"c{i:03d}") for i in range(n)]
    collector = link(broker.url, swarm, "collector")
    try:
        per_client = max(10, 3000 // n)
        result = {"clients": n, "throughput": throughput(clients, collector, per_client)}
        result["broadcast_latency_ms"] = broadcast(clients, collector)
        result["rtt_ms"] = percentiles(rtt_link(clients[0], collector))
        result["reconnects"] = sum(c.connections - 1 for c in [*clients, collector])
        return result
    finally:
        for client in [*clients, collector]:
            client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 100, 300])
    args = parser.parse_args()
    port = free_port()
    config = Path(tempfile.mkdtemp(prefix="bench-link-")) / "mosquitto.conf"
    config.write_text(mosquitto_config("127.0.0.1", port, BROKER_EXTRA))
    with EmbeddedBroker(port=port, prefer="mosquitto", config_file=config) as broker:
        sizes = wire_sizes()
        size = sizes["energy_offer"]["payload"]
        paho_rtt = {
            "default_socket": percentiles(rtt_paho(broker, size, nodelay=False)),
            "tcp_nodelay": percentiles(rtt_paho(broker, size, nodelay=True)),
        }
        runs = [run_size(broker, n) for n in args.clients]
    for run in runs:
        run["rtt_ratio_to_paho"] = round(run["rtt_ms"]["p50"] / paho_rtt["tcp_nodelay"]["p50"], 2)
    print(json.dumps({
        "broker": f"mosquitto on loopback, {BROKER_EXTRA.strip()}",
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        "bytes_per_summary": sizes,
        "codec_encode_decode_us": codec_cost_us(),
        "identity": identity_cost(),
        "reference_paho_rtt_ms": paho_rtt,
        "runs": runs,
    }, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
