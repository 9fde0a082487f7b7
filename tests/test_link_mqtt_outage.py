"""Summaries published while the broker is down, on the docs' fleet broker (persistence on).

The broker is stopped and started again on the same port with the same files;
the sender publishes during the outage. Whichever agent reconnects first, the
broker kept the receiver's MQTT 5 session (subscriptions) across the restart, so
nothing the sender held is lost, and the link's outbox bound is reported when hit.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from fleet_support import PASSWORDS, SWARM, certificates, fleet_config, start_fleet_broker
from link_support import inbox, mqtt_link, wait_until

from otswarm.link import MqttLink
from otswarm.link.broker import free_port
from otswarm.summaries import Histogram, Kind

HIST = Histogram(np.ones(8) / 8)
# the receiver retries less often, so it mostly comes back after the sender has sent
# what it held: the case only the broker's copy of the receiver's session can save
SLOW_RETRY = {"reconnect_min_s": 1.0, "reconnect_max_s": 1.0}


class FleetBroker:
    """The fleet broker of one test, to stop and start again on the same port and files."""

    def __init__(self, folder: Path) -> None:
        certs = certificates(folder / "certs")
        self.ca_file = str(certs / "ca.crt")
        self.port = free_port()
        self.config = fleet_config(folder, certs, self.port)
        self.broker = None

    def start(self) -> None:
        self.broker = start_fleet_broker(self.config, self.port, self.ca_file)

    def stop(self) -> None:
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def agent(self, name: str, **options) -> MqttLink:
        """A started link of agent ``name`` with its password."""
        return mqtt_link(
            f"mqtts://127.0.0.1:{self.port}", name, SWARM, ca_file=self.ca_file,
            username=name, password=PASSWORDS[name], **options,
        )  # fmt: skip

    def crash(self) -> None:
        """Kill the broker without letting it save anything (what it saved last counts)."""
        os.kill(self.broker.pid, signal.SIGKILL)
        self.stop()

    def outage(self, sender: MqttLink, receiver: MqttLink, count: int) -> list[int]:
        """Stop the broker, publish ``count`` histograms, start it again; their sequences."""
        self.stop()
        assert wait_until(lambda: not sender.connected and not receiver.connected)
        sent = [sender.publish(HIST, round=r) for r in range(count)]
        self.start()
        assert sender.wait_ready(20) and receiver.wait_ready(20)
        return sent


@pytest.fixture
def fleet(tmp_path):
    broker = FleetBroker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


def test_summaries_published_while_the_broker_is_down_arrive_in_order(fleet):
    sender, receiver = fleet.agent("alice"), fleet.agent("carol", **SLOW_RETRY)
    got = inbox(receiver, Kind.HISTOGRAM, sender="alice")
    try:
        assert receiver.wait_ready(10)
        sent = fleet.outage(sender, receiver, 40)
        received = [got.get(timeout=10).header.sequence for _ in sent]
        assert received == sent  # all of them, in order, once
        after = sender.publish(HIST)  # and the link goes on as before
        assert got.get(timeout=10).header.sequence == after
        assert sender.stats().dropped_offline == 0
        assert receiver.alive() == ["alice", "carol"]
    finally:
        sender.close()
        receiver.close()


def test_an_overflowing_outbox_drops_the_oldest_and_says_so(fleet, caplog):
    sender = fleet.agent("alice", max_offline_messages=10)
    receiver = fleet.agent("carol", **SLOW_RETRY)
    got = inbox(receiver, Kind.HISTOGRAM, sender="alice")
    try:
        assert receiver.wait_ready(10)
        with caplog.at_level(logging.WARNING, logger="otswarm.link"):
            sent = fleet.outage(sender, receiver, 15)
        assert sender.stats().dropped_offline == 5
        assert "max_offline_messages" in caplog.text
        received = [got.get(timeout=10).header.sequence for _ in sent[5:]]
        assert received == sent[5:]  # the newest 10, in order
    finally:
        sender.close()
        receiver.close()


def test_summaries_in_flight_when_the_broker_crashes_are_sent_again(fleet):
    """Published while the broker hangs (no PUBACK), then it dies: the sender sends them
    again after the reconnect, before anything newer."""
    sender, receiver = fleet.agent("alice"), fleet.agent("carol", **SLOW_RETRY)
    got = inbox(receiver, Kind.HISTOGRAM, sender="alice")
    try:
        assert receiver.wait_ready(10)  # its subscription is on the broker
        fleet.outage(sender, receiver, 0)  # a clean restart saves both sessions to disk
        os.kill(fleet.broker.pid, signal.SIGSTOP)
        in_flight = [sender.publish(HIST, round=r) for r in range(5)]
        assert sender.connected  # handed to the socket, not held
        fleet.crash()
        assert wait_until(lambda: not sender.connected and not receiver.connected)
        held = sender.publish(HIST, round=5)
        fleet.start()
        assert sender.wait_ready(20) and receiver.wait_ready(20)
        received = [got.get(timeout=10).header.sequence for _ in range(6)]
        assert received == [*in_flight, held]
    finally:
        sender.close()
        receiver.close()
