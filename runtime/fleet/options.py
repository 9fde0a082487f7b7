"""The broker options of the fleet commands (``otswarm fleet``, ``otswarm profile
--broker``) and the watcher they open: an operator needs only the broker's address,
plus the TLS files, credentials and swarm key of a secured fleet."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from otswarm.errors import ConfigError


def add_broker_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--broker",
        required=required,
        metavar="URL",
        help="the swarm's broker, mqtt://host:1883 or mqtts://host:8883",
    )
    parser.add_argument("--swarm", help="the swarm (default: the only one on the broker)")
    parser.add_argument(
        "--hmac-key-file", type=Path, help="the swarm key: refuse unsigned or forged telemetry"
    )
    parser.add_argument("--ca-file", help="TLS: the CA the broker's certificate is signed by")
    parser.add_argument("--cert-file", help="TLS: this viewer's client certificate")
    parser.add_argument("--key-file", help="TLS: its private key")
    parser.add_argument("--username", default=None, help="broker user (a viewer identity)")
    parser.add_argument("--password", default=None, help="its password")
    parser.add_argument(
        "--wait",
        type=float,
        default=3.0,
        metavar="S",
        help="seconds to gather the retained states and first heartbeats "
        "before the first view (default 3)",
    )


def read_key(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"--hmac-key-file: cannot read {path}: {exc.strerror}") from exc


def open_watcher(args: argparse.Namespace, listener=None):
    """Connect a read-only watcher for ``args.swarm`` (every swarm when None), its
    state feeding ``listener`` too; wait ``args.wait`` seconds for the retained
    messages; return ``(watcher, state)``. (Imports here: ``add_broker_arguments``
    runs for every ``otswarm`` command line, this only for the fleet commands.)"""
    from otswarm.fleet.state import FleetState
    from otswarm.fleet.watch import FleetWatcher
    from otswarm.link.mqtt_config import MqttLinkConfig

    config = MqttLinkConfig(
        broker_url=args.broker,
        agent="fleet-viewer",
        hmac_key=read_key(args.hmac_key_file),
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
        username=args.username,
        password=args.password,
    )
    state = FleetState(config.hmac_key)
    if listener is not None:
        state.add_listener(listener)
    watcher = FleetWatcher(config, state, args.swarm).start()
    time.sleep(max(0.0, args.wait))
    return watcher, state
