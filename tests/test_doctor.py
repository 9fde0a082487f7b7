"""``otswarm doctor``: one line per item, broker reachability decided by a real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from otswarm.link.broker import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
ITEMS = ("board", "meters", "serial device", "LiteRT", "broker", "Numba cache")


def _doctor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "otswarm.cli", "doctor", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "200"},
        timeout=120,
    )


def _lines(result: subprocess.CompletedProcess) -> dict[str, str]:
    lines = {}
    for line in result.stdout.splitlines():
        status, rest = line.split(maxsplit=1)
        item = next(i for i in ITEMS if rest.startswith(i))
        lines[item] = status
    return lines


def test_one_line_per_item_and_a_reachable_broker(mqtt_broker):
    result = _doctor("--broker", mqtt_broker.url)
    lines = _lines(result)
    assert sorted(lines) == sorted(ITEMS), result.stdout
    assert lines["broker"] == "ok"
    assert lines["LiteRT"] == "ok"  # the shipped policy runs in the interpreter
    assert result.returncode == 0, result.stdout


def test_an_unreachable_broker_fails_and_says_where():
    url = f"mqtt://127.0.0.1:{free_port()}"
    result = _doctor("--broker", url)
    assert _lines(result)["broker"] == "FAIL"
    assert url in result.stdout
    assert result.returncode == 1


def test_a_missing_serial_device_fails(tmp_path):
    config = tmp_path / "board.toml"
    config.write_text(f'[agent]\nid = "b1"\n[bridge]\ndevice = "{tmp_path / "ttyACM9"}"\n')
    result = _doctor("--config", str(config), "--broker", "mqtt://127.0.0.1:1")
    assert _lines(result)["serial device"] == "FAIL"
    assert "ttyACM9 does not exist" in result.stdout


def test_after_warmup_the_cache_check_counts_the_agent_s_kernels_cached_on_their_own(ot_warm):
    """Counted: the kernels ``warmup()`` runs (the agent's), traced with the JIT off, but
    not the ``inline="always"`` helpers, which are compiled into their callers and never
    get a cache entry of their own. Counting either would say "cold" right after
    warmup()."""
    from otswarm.doctor.numba_cache import check_numba_cache, ot_kernels, warmup_functions

    called = warmup_functions()
    assert ("otswarm.ot.sinkhorn", "sinkhorn") in called  # the public function itself
    assert not any(module == "otswarm.ot.batch" for module, _ in called)
    kernels = {(k.py_func.__module__, k.py_func.__name__): k for k in ot_kernels()}
    needed = set(kernels) & called
    assert needed and set(kernels) - called  # some kernels are the agent's, some not
    inlined = ("otswarm.ot._scaling", "_scale")
    assert inlined in called and inlined not in kernels  # run, but compiled into callers
    finding = check_numba_cache()
    assert finding.status == "ok", finding.detail
    assert f"warm: the agent's {len(needed)} kernels cached" in finding.detail
