"""The decoder on 12,000 random and mutated payloads: only typed errors, ever."""

from __future__ import annotations

import numpy as np

from otswarm.summaries import (
    AllocationPlan,
    EnergyOffer,
    Heartbeat,
    Histogram,
    PointCloud,
    State,
    SummaryDecodeError,
    Transfer,
    decode,
    encode,
)

KEY = b"swarm-key-0123456789"
SEEDS = [
    Histogram(np.ones(32) / 32, -1, 1, 3),
    PointCloud(np.arange(12.0).reshape(4, 3), np.ones(4) / 4),
    EnergyOffer(3.0, 1.0, (1, 2, 3), 0.1, 5),
    AllocationPlan(2, "p", (Transfer("a", "b", 1.0), Transfer("b", "c", 2.0))),
    Heartbeat(1.0, 0.5),
    State(True, 1.0),
]


def _mutate(rng: np.random.Generator, payload: bytes) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.integers(1, 4)):
        op = rng.integers(0, 5)
        if op == 0 and data:  # flip bits
            i = rng.integers(len(data))
            data[i] ^= 1 << int(rng.integers(8))
        elif op == 1 and data:  # random byte
            data[rng.integers(len(data))] = int(rng.integers(256))
        elif op == 2:  # truncate
            del data[rng.integers(len(data) + 1) :]
        elif op == 3:  # extend
            data += rng.bytes(int(rng.integers(1, 40)))
        elif op == 4 and len(data) > 6:  # large value into a size field
            i = rng.integers(len(data) - 2)
            data[i : i + 2] = b"\xff\xff"
    return bytes(data)


def _outcomes(payloads, key):
    counts = {"ok": 0, "typed": 0}
    for payload in payloads:
        try:
            decode(payload, key=key)
            counts["ok"] += 1
        except SummaryDecodeError:
            counts["typed"] += 1
    return counts


def test_twelve_thousand_payloads_raise_only_typed_errors():
    rng = np.random.default_rng(20261121)
    valid = [
        encode(m, agent="agent-7", round=1, sequence=s, timestamp_us=10**15, key=key)
        for s, m in enumerate(SEEDS, 1)
        for key in (None, KEY)
    ]
    random_blobs = [rng.bytes(int(rng.integers(0, 300))) for _ in range(2000)]
    magic_blobs = [b"OT\x01" + bytes([k]) + rng.bytes(int(rng.integers(0, 200))) for k in range(7)]
    mutated = [_mutate(rng, valid[i % len(valid)]) for i in range(10000)]
    payloads = random_blobs + magic_blobs * 10 + mutated
    assert len(payloads) >= 12000
    without_key = _outcomes(payloads, None)
    with_key = _outcomes(mutated[:3000], KEY)
    # every payload decoded or raised a typed error (anything else fails the test)
    assert sum(without_key.values()) == len(payloads)
    assert without_key["typed"] > 0.5 * len(payloads)  # most mutations are caught
    assert with_key["typed"] > 0.99 * 3000  # under a key almost nothing survives a mutation
