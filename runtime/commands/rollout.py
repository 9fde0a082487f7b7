"""``otswarm rollout``: a signed policy update over the air.

    otswarm rollout MODEL.tflite --broker URL --swarm S [--signing-key operator.key]
        [--card CARD.json] [--canary K] [--wait S] [--timeout S] [--json]
        [--username U --password P] [--tls-ca CA] [--tls-cert C --tls-key K]
        [--hmac-key-file F]

Signs the model and its card (default: ``MODEL.card.json`` beside it) with the
operator's Ed25519 key, publishes them retained to the swarm (canaries first with
``--canary``), prints each agent's answer and exits 0 only when every agent asked
adopted it (1 when one refused, rolled back, stayed silent, or the canaries
stopped it). The guide is docs/fleet.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

HELP = "sign a policy and roll it out to a swarm over MQTT (canaries first with --canary)"
DEFAULT_KEY = "~/.config/otswarm/operator.key"


def _default_key() -> Path:
    return Path(os.environ.get("OTSWARM_SIGNING_KEY") or DEFAULT_KEY).expanduser()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="the int8 .tflite model")
    parser.add_argument("--card", type=Path, help="its model card (default: MODEL.card.json)")
    parser.add_argument("--broker", required=True, help="mqtt://host:port or mqtts://host:port")
    parser.add_argument("--swarm", required=True, help="the swarm to update")
    parser.add_argument(
        "--signing-key", type=Path, default=_default_key(),
        help="the operator's Ed25519 private key (PEM) whose public key the agents trust "
        f"(default: $OTSWARM_SIGNING_KEY, else {DEFAULT_KEY})",
    )  # fmt: skip
    parser.add_argument("--canary", type=int, default=0, help="agents that adopt first")
    parser.add_argument(
        "--wait", type=float, default=30.0,
        help="seconds the canaries must stay healthy before the rest adopt (default 30)",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the agents' answers"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--username", help="broker username (the operator's identity)")
    parser.add_argument("--password", help="broker password")
    parser.add_argument("--tls-ca", help="CA file of the broker's certificate (mqtts://)")
    parser.add_argument("--tls-cert", help="client certificate (PEM)")
    parser.add_argument("--tls-key", help="client certificate key (PEM)")
    parser.add_argument("--hmac-key-file", type=Path, help="the swarm's HMAC key, if it has one")


def run(args: argparse.Namespace) -> int:
    from otswarm.identity import read_private_key
    from otswarm.link.mqtt_config import MqttLinkConfig
    from otswarm.policy import card_path_for
    from otswarm.rollout.campaign import Campaign
    from otswarm.rollout.errors import RolloutError
    from otswarm.rollout.operator_client import OperatorClient
    from otswarm.rollout.signing import signed_rollout

    key = read_private_key(args.signing_key)
    model = _read(args.model, "model", RolloutError)
    card = _read(args.card or card_path_for(args.model), "model card", RolloutError)
    hmac_key = None
    if args.hmac_key_file is not None:
        hmac_key = _read(args.hmac_key_file, "HMAC key", RolloutError).strip()
    config = MqttLinkConfig(
        broker_url=args.broker, swarm=args.swarm, agent="operator", hmac_key=hmac_key,
        ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key,
        username=args.username, password=args.password,
    )  # fmt: skip
    issued_us = int(time.time() * 1e6)

    def make(targets: tuple[str, ...]):
        return signed_rollout(key, issued_us=issued_us, swarm=args.swarm, targets=targets,
                              card=card, model=model)  # fmt: skip

    say = (lambda line: None) if args.json else (lambda line: print(line, flush=True))
    with OperatorClient(config, signer=key) as client:
        campaign = Campaign(client, make, canary=args.canary, wait_s=args.wait,
                            timeout_s=args.timeout, say=say)  # fmt: skip
        report = campaign.run()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_table(report, args.model.name)
    return 0 if report.ok else 1


def _read(path: Path, what: str, error) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror}") from exc


def _print_table(report, name: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"rollout of {name} ({report.model})")
    for column in ("agent", "canary", "outcome", "policy", "reason"):
        table.add_column(column)
    for r in report.results:
        style = "green" if r.outcome == "adopted" else "red"
        table.add_row(r.agent, "yes" if r.canary else "", f"[{style}]{r.outcome}[/]", r.policy,
                      r.detail if r.outcome != "adopted" else "")  # fmt: skip
    console = Console()
    console.print(table)
    console.print("every agent adopted it" if report.ok else "[red]not adopted everywhere[/]")
