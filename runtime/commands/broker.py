"""``otswarm broker``: run the embedded MQTT broker in the foreground."""

from __future__ import annotations

import argparse
import signal

HELP = "run the embedded MQTT broker (mosquitto if installed, else amqtt)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=1883, help="TCP port (default 1883)")
    parser.add_argument(
        "--kind",
        choices=("auto", "mosquitto", "amqtt"),
        default="auto",
        help="which broker to run (default: mosquitto when on PATH)",
    )
    parser.add_argument("--config", help="a Mosquitto configuration file to use as is")


def run(args: argparse.Namespace) -> int:
    from otswarm.link.broker import EmbeddedBroker

    broker = EmbeddedBroker(args.host, args.port, prefer=args.kind, config_file=args.config)
    # SIGTERM (kill, a supervisor, a test) stops the child Mosquitto too, as Ctrl-C does;
    # without this Python dies at once and the broker lives on as an orphan
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        broker.start()
        print(f"otswarm broker: {broker.kind} on {broker.url} (Ctrl-C stops it)", flush=True)
        return broker.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
