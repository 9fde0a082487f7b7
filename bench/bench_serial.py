"""Serial bridge benchmark: decoded frames per second and host CPU time per frame.

Prints one JSON document. Three measurements, all on telemetry frames (the
stream that dominates the link):

- ``decoder``: Packetizer + payload decoding of an in-memory stream, fed in
  64-byte reads; frames/s and CPU µs per frame.
- ``line_rate``: for 115200 baud and 1 Mbaud (8N1: 10 bits per byte), the frames
  per second the wire can carry, the share of one core the decoder needs at
  that rate (``cpu_per_frame · wire_frames_per_s``) and the headroom
  ``decoder frames per CPU second ÷ wire frames/s`` (CPU time, not wall time,
  so other load on the machine does not move it).
- ``pty``: the whole host path (pyserial on a real pty, BridgeLink's reader
  thread, callbacks): a child process writes frames paced at each baud rate's
  byte rate (and once unpaced); the host's process CPU time per delivered frame
  and the delivered frames/s.

Run: ``NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/bench_serial.py``
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from otswarm.firmware_bridge import protocol
from otswarm.firmware_bridge.frames import encode_frame
from otswarm.firmware_bridge.link import BridgeLink
from otswarm.firmware_bridge.packetizer import Packetizer

BAUD_RATES = {"115200": 115200, "1M": 1_000_000}
BITS_PER_BYTE = 10  # 8N1: start + 8 data + stop
READ_SIZE = 64
PTY_SECONDS = 3.0


def telemetry_frames(n: int) -> list[bytes]:
    return [
        encode_frame(
            protocol.MSG_TELEMETRY,
            i,
            protocol.encode_payload(
                protocol.Telemetry(i, 5.0, 0.5, 2.5, 0.5, 18000.0, 1.25, 30.0, 1.0, 2)
            ),
        )
        for i in range(n)
    ]


def decoder(frames: list[bytes]) -> dict:
    stream = b"".join(frames)
    packetizer = Packetizer()
    decoded = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(0, len(stream), READ_SIZE):
        for item in packetizer.feed(stream[i : i + READ_SIZE]):
            protocol.decode_payload(item.msg_type, item.payload)
            decoded += 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert decoded == len(frames)
    return {
        "frames": decoded,
        "frame_bytes": len(frames[0]),
        "frames_per_s": decoded / wall,
        "frames_per_cpu_s": decoded / cpu,
        "cpu_us_per_frame": 1e6 * cpu / decoded,
    }


def _writer(fd: int, frames: list[bytes], byte_rate: float | None, start: float) -> None:
    """Child process: write the frames, paced to ``byte_rate`` bytes/s (None: unpaced)."""
    stream = memoryview(b"".join(frames))
    sent = 0
    while sent < len(stream):
        if byte_rate is None:
            target = len(stream)
        else:
            target = min(len(stream), int((time.perf_counter() - start) * byte_rate))
            if target <= sent:
                time.sleep(0.005)
                continue
        sent += os.write(fd, stream[sent:target])


def pty_run(frames: list[bytes], byte_rate: float | None) -> dict:
    master, slave = os.openpty()
    for fd in (master, slave):
        tty.setraw(fd)
    done = threading.Event()
    received = [0]

    def count(_record):
        received[0] += 1
        if received[0] == len(frames):
            done.set()

    link = BridgeLink(os.ttyname(slave), on_telemetry=count)
    link.open(handshake=False)  # no MCU answers here: the writer only streams telemetry
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_writer, args=(master, frames, byte_rate, time.perf_counter()))
    child.start()
    done.wait(60 + len(frames) * 10 * BITS_PER_BYTE / 115200)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    child.join()
    link.close()
    os.close(master)
    os.close(slave)
    stats = link.stats()
    return {
        "frames_sent": len(frames),
        "frames_delivered": received[0],
        "crc_errors": stats.crc_errors,
        "frames_per_s": received[0] / wall,
        "host_cpu_us_per_frame": 1e6 * cpu / max(received[0], 1),
        "host_cpu_share_of_one_core": cpu / wall,
    }


def main() -> None:
    frames = telemetry_frames(20_000)
    dec = decoder(frames)
    frame_bytes = dec["frame_bytes"]
    line_rate, pty = {}, {}
    for name, baud in BAUD_RATES.items():
        byte_rate = baud / BITS_PER_BYTE
        wire_fps = byte_rate / frame_bytes
        line_rate[name] = {
            "wire_frames_per_s": wire_fps,
            "decoder_headroom_ratio": dec["frames_per_cpu_s"] / wire_fps,
            "decoder_cpu_share_at_line_rate": dec["cpu_us_per_frame"] * 1e-6 * wire_fps,
        }
        pty[name] = pty_run(frames[: int(wire_fps * PTY_SECONDS)], byte_rate)
    pty["unpaced"] = pty_run(frames, None)
    print(
        json.dumps(
            {
                "decoder": dec,
                "line_rate": line_rate,
                "pty": pty,
                "loadavg_1min": os.getloadavg()[0],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
