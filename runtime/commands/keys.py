"""``otswarm keys``: the operator's tools for per-agent identity.

    otswarm keys generate NAME [--dir DIR] [--force]
    otswarm keys roster --swarm S --operator-key OP.key --serial N --out ROSTER.json \
        [AGENT=]PUBFILE...
    otswarm keys check ROSTER.json --operator-pub OP.pub [--swarm S]
    otswarm keys publish ROSTER.json --operator-pub OP.pub --broker URL \
        [--username U --password P] [--ca CA] [--cert C --key K]

``generate`` writes ``DIR/NAME.key`` (private, mode 0600) and ``DIR/NAME.pub``
and prints the public key as a roster writes it. ``roster`` signs the roster of
the given public keys (the agent id is the file's stem unless ``AGENT=`` names
it). ``check`` verifies a roster against the operator's public key and lists it;
``publish`` checks it the same way, then publishes it retained on the swarm's
roster topic (``otswarm/v1/<swarm>/roster``), where agents without a
``roster_file`` take it from.
docs/security.md walks through a fleet's keys.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "make Ed25519 keys and sign the swarm's roster of agent public keys"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    gen = sub.add_parser("generate", help="a new key pair: NAME.key (0600) and NAME.pub")
    gen.add_argument("name", help="file name stem, usually the agent id or 'operator'")
    gen.add_argument("--dir", type=Path, default=Path("."), help="where to write (default: .)")
    gen.add_argument("--force", action="store_true", help="replace existing files")
    gen.set_defaults(keys_run=_generate)
    roster = sub.add_parser("roster", help="sign the roster of agent public keys")
    roster.add_argument("keys", nargs="+", metavar="[AGENT=]PUBFILE", help="agent public keys")
    roster.add_argument("--swarm", required=True, help="the swarm's name")
    roster.add_argument("--operator-key", type=Path, required=True, help="operator private key")
    roster.add_argument("--serial", type=int, required=True, help="higher than the last roster")
    roster.add_argument("--out", type=Path, required=True, help="the roster file to write")
    roster.set_defaults(keys_run=_roster)
    check = sub.add_parser("check", help="verify a roster against the operator's public key")
    check.add_argument("roster", type=Path)
    check.add_argument("--operator-pub", type=Path, required=True)
    check.add_argument("--swarm", help="also require this swarm name")
    check.set_defaults(keys_run=_check)
    publish = sub.add_parser("publish", help="publish a checked roster, retained, on the broker")
    publish.add_argument("roster", type=Path)
    publish.add_argument("--operator-pub", type=Path, required=True)
    publish.add_argument("--broker", required=True, help="mqtt://host:port or mqtts://host:port")
    publish.add_argument("--username", default=None, help="the broker user allowed to (operator)")
    publish.add_argument("--password", default=None)
    publish.add_argument("--ca", default=None, help="CA file of the broker's certificate")
    publish.add_argument("--cert", default=None, help="client certificate, if the broker asks")
    publish.add_argument("--key", default=None, help="client certificate key")
    publish.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    publish.set_defaults(keys_run=_publish)


def run(args: argparse.Namespace) -> int:
    return args.keys_run(args)


def _generate(args: argparse.Namespace) -> int:
    from otswarm.identity import generate_private_key, public_text, write_key_pair

    key = generate_private_key()
    private, public = args.dir / f"{args.name}.key", args.dir / f"{args.name}.pub"
    write_key_pair(key, private, public, overwrite=args.force)
    print(f"{private} (keep secret), {public}: {public_text(key)}")
    return 0


def _roster(args: argparse.Namespace) -> int:
    from otswarm.errors import ConfigError
    from otswarm.identity import Roster, read_private_key, read_public_key, sign_roster

    agents = {}
    for item in args.keys:
        agent, _, path = item.rpartition("=")
        path = Path(path)
        agent = agent or path.stem
        if agent in agents:
            raise ConfigError(f"keys roster: agent {agent!r} given twice")
        agents[agent] = read_public_key(path)
    roster = Roster(args.swarm, args.serial, agents)
    document = sign_roster(roster, read_private_key(args.operator_key))
    args.out.write_bytes(document)
    print(f"{args.out}: roster #{roster.serial} of swarm {roster.swarm}, {len(agents)} agents")
    return 0


def _check(args: argparse.Namespace) -> int:
    from otswarm.identity import public_text, read_public_key, read_roster

    roster = read_roster(args.roster, read_public_key(args.operator_pub), swarm=args.swarm)
    print(f"{args.roster}: roster #{roster.serial} of swarm {roster.swarm}, signed by the operator")
    for agent, key in sorted(roster.agents.items()):
        print(f"  {agent:<32} {public_text(key)}")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from otswarm.identity import read_public_key, read_roster
    from otswarm.link.mqtt_config import MqttLinkConfig
    from otswarm.link.retained import publish_retained
    from otswarm.link.topics import roster_topic

    roster = read_roster(args.roster, read_public_key(args.operator_pub))
    settings = MqttLinkConfig(
        broker_url=args.broker, swarm=roster.swarm, agent="operator", username=args.username,
        password=args.password, ca_file=args.ca, cert_file=args.cert, key_file=args.key,
        connect_timeout_s=args.timeout,
    )  # fmt: skip
    topic = roster_topic(roster.swarm)
    publish_retained(settings, topic, args.roster.read_bytes())
    print(f"{topic}: roster #{roster.serial} ({len(roster.agents)} agents), retained")
    return 0
