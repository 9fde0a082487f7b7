"""``otswarm doctor``: report what this board has, one clear line per item."""

from __future__ import annotations

import argparse

HELP = "report what this board has: meters, serial device, LiteRT, broker, Numba cache"

_MARKS = {"ok": "[green]ok  [/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="an agent config: check its device, broker and profile")
    parser.add_argument("--broker", help="broker URL to try (default: the config's, else local)")
    parser.add_argument("--profile", help="board profile for the meters (default: the config's)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from otswarm.agent.config import AgentConfig, AgentSection, load_config
    from otswarm.doctor.checks import (
        check_broker,
        check_litert,
        check_meters,
        check_numba_cache,
        check_serial,
    )
    from otswarm.errors import PROJECT_ERRORS

    config = load_config(args.config) if args.config else AgentConfig(AgentSection(id="doctor"))
    checks = (
        lambda: check_meters(args.profile or config.energy.profile),
        lambda: check_serial(config.bridge.device),
        lambda: check_litert(config.policy.model),
        lambda: check_broker(args.broker or config.link.url),
        check_numba_cache,
    )
    console = Console(highlight=False)
    failed = False
    for check in checks:
        try:
            finding = check()
        except PROJECT_ERRORS as exc:
            console.print(f"{_MARKS['fail']} {exc}")
            failed = True
            continue
        failed |= finding.status == "fail"
        console.print(f"{_MARKS[finding.status]} {finding.item:<14} {finding.detail}")
    return 1 if failed else 0
