"""``otswarm doctor``: report what this board has, one clear line per item."""

from __future__ import annotations

import argparse

HELP = "report what this board has: power profile, meters, serial device, LiteRT, broker, Numba"

_MARKS = {"ok": "[green]ok  [/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="an agent config: check its device, broker and profile")
    parser.add_argument("--broker", help="broker URL to try (default: the config's, else local)")
    parser.add_argument(
        "--profile", help="board profile for the meters (default: the config's, else this board's)"
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from otswarm.agent.config import BridgeSection, LinkSection, PolicySection, load_config
    from otswarm.doctor.checks import (
        check_board,
        check_broker,
        check_litert,
        check_meters,
        check_serial,
    )
    from otswarm.doctor.numba_cache import check_numba_cache
    from otswarm.energy.board import detect_board
    from otswarm.errors import PROJECT_ERRORS

    board = detect_board()
    if args.config:
        config = load_config(args.config)
        bridge, policy, link = config.bridge, config.policy, config.link
        configured, source = config.energy.profile, f"[energy].profile in {args.config}"
    else:
        bridge, policy, link = BridgeSection(), PolicySection(), LinkSection()
        configured, source = board.profile, None
    profile = args.profile or configured
    given_by = "--profile" if args.profile else source
    checks = [
        lambda: check_board(board, profile, given_by),
        *([lambda: check_meters(profile)] if profile else []),
        lambda: check_serial(bridge.device),
        lambda: check_litert(policy.model),
        lambda: check_broker(args.broker or link.url),
        check_numba_cache,
    ]
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
