"""Checks of an installed otswarm wheel, run as a new user would run them.

Used by ``tests/test_wheel_install.py`` (this machine) and by
``tests/arm64/smoke.sh`` (an emulated Raspberry Pi, where it runs as a script
with the root's own ``python3``, hence the standard library only). Every check
runs the venv's ``otswarm`` or ``python`` from a working directory outside any
checkout, with a clean environment, and returns what it measured; a failed
check raises :class:`CheckFailed` with the output that shows why.

    python3 wheel_checks.py VENV --broker mqtt://127.0.0.1:PORT [--profile rpi5]
                            [--expect-probabilities FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = ("runtime", "trainer", "firmware_bridge", "profiles", "bench")
BANNER = "XNNPACK"  # LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
PLOTS_HINT = "pip install 'otswarm[report]'"


class CheckFailed(AssertionError):
    """A check of the installed wheel failed; the message holds the evidence."""


def _env(venv: Path) -> dict[str, str]:
    keep = {k: os.environ[k] for k in ("HOME", "TMPDIR", "QEMU_CPU") if k in os.environ}
    return {**keep, "PATH": f"{venv}/bin:/usr/bin:/bin", "COLUMNS": "200", "LANG": "C.UTF-8"}


def run(venv: Path, argv: list[str], cwd: Path, timeout: float = 600) -> tuple[int, str, float]:
    """Run ``VENV/bin/ARGV[0] ARGV[1:]`` in ``cwd``: exit status, stdout+stderr, seconds."""
    began = time.monotonic()
    done = subprocess.run(
        [str(venv / "bin" / argv[0]), *argv[1:]],
        cwd=cwd,
        env=_env(venv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stdout, time.monotonic() - began


def _python(venv: Path, code: str, cwd: Path, timeout: float = 600) -> tuple[str, float]:
    code_, output, seconds = run(venv, ["python", "-c", code], cwd, timeout)
    if code_ != 0:
        raise CheckFailed(f"python -c failed ({code_}):\n{output}")
    return output, seconds


def _expect(condition: bool, what: str, output: str) -> None:
    if not condition:
        raise CheckFailed(f"{what}\n--- output ---\n{output}")


def _no_noise(output: str) -> None:
    _expect("Traceback" not in output, "a traceback in the output", output)
    _expect(BANNER not in output, "LiteRT's XNNPACK banner in the output", output)


def check_top_level(venv: Path, cwd: Path) -> dict:
    """The wheel installed one top-level package, ``otswarm``; no bare name imports."""
    code = (
        "import importlib.metadata as m, importlib.util as u, json\n"
        "files = m.distribution('otswarm').files\n"
        "top = sorted({f.parts[0] for f in files if f.parts[0] not in ('..',)\n"
        "              and not f.parts[0].endswith('.dist-info')})\n"
        f"bare = [n for n in {BARE!r} if u.find_spec(n)]\n"
        "print(json.dumps({'top_level': top, 'bare_importable': bare,\n"
        "                  'version': m.version('otswarm')}))\n"
    )
    output, _ = _python(venv, code, cwd)
    found = json.loads(output.strip().splitlines()[-1])
    _expect(found["top_level"] == ["otswarm"], f"top-level packages {found['top_level']}", output)
    _expect(found["bare_importable"] == [], f"importable: {found['bare_importable']}", output)
    return found


def check_version(venv: Path, cwd: Path, version: str) -> dict:
    code, output, seconds = run(venv, ["otswarm", "--version"], cwd)
    _expect(code == 0 and output.strip() == f"otswarm {version}", "otswarm --version", output)
    return {"output": output.strip(), "seconds": round(seconds, 2)}


def closed_port() -> int:
    """A loopback TCP port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def doctor_lines(venv: Path, cwd: Path, broker: str) -> tuple[int, dict[str, str], str]:
    """``otswarm doctor --broker URL``: exit status, item -> its line, the output."""
    code, output, _ = run(venv, ["otswarm", "doctor", "--broker", broker], cwd)
    _no_noise(output)
    lines = {}
    for line in output.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) == 3 and parts[0] in ("ok", "warn", "FAIL"):
            lines[parts[1].lower()] = line
    return code, lines, output


def check_doctor_unreachable(venv: Path, cwd: Path, profile: str | None = None) -> dict:
    """A broker nobody answers is one FAIL line (exit 1), not a traceback; the doctor
    names the power profile it chose (``profile``: the one expected here)."""
    url = f"mqtt://127.0.0.1:{closed_port()}"
    code, lines, output = doctor_lines(venv, cwd, url)
    _expect(code == 1, f"doctor exit status {code}, expected 1", output)
    _expect(lines.get("broker", "").startswith("FAIL"), "no FAIL line for the broker", output)
    _expect(lines.get("litert", "").startswith("ok"), "LiteRT is not ok", output)
    if profile is not None:
        _expect(f"profile {profile}" in lines.get("board", ""), f"board is not {profile}", output)
    return {"lines": lines}


def check_warmup(venv: Path, cwd: Path) -> dict:
    """``otswarm.ot.warmup()`` twice (compiling, then from the cache); the doctor then
    counts every kernel as cached."""
    code = "import otswarm.ot; print(otswarm.ot.warmup())"
    _, cold = _python(venv, code, cwd, timeout=1800)
    _, cached = _python(venv, code, cwd)
    _, lines, output = doctor_lines(venv, cwd, f"mqtt://127.0.0.1:{closed_port()}")
    numba = lines.get("numba", "")
    _expect(numba.startswith("ok") and "warm" in numba, "Numba cache not warm", output)
    return {"cold_s": round(cold, 1), "cached_s": round(cached, 2), "doctor": numba}


INFERENCE = """
import json, numpy as np
from otswarm.policy import Policy
policy = Policy.load_default("harvest")
states = np.random.default_rng(0).uniform(0.0, 1.0, (16, policy.observation_size))
probs = policy.action_probabilities(states.astype(np.float32))
print(json.dumps(probs.astype(float).tolist()))
"""


def check_inference(venv: Path, cwd: Path, expected: list | None = None) -> dict:
    """The shipped harvest policy on 16 seeded states: rows are distributions and,
    given ``expected`` (the same states elsewhere), equal to them."""
    output, seconds = _python(venv, INFERENCE, cwd)
    _no_noise(output)
    probs = json.loads(output.strip().splitlines()[-1])
    sums = [sum(row) for row in probs]
    _expect(
        len(probs) == 16 and all(abs(s - 1.0) < 0.02 for s in sums), "not distributions", output
    )
    _expect(all(p >= 0.0 for row in probs for p in row), "negative probabilities", output)
    found = {"probabilities": probs, "seconds": round(seconds, 2)}
    if expected is not None:
        shape = [len(row) for row in probs]
        _expect(shape == [len(row) for row in expected], "not the expected shape", output)
        pairs = (
            pair for r, s in zip(probs, expected, strict=True) for pair in zip(r, s, strict=True)
        )
        diff = max(abs(a - b) for a, b in pairs)
        found["max_abs_diff_to_expected"] = diff
        _expect(diff == 0.0, f"probabilities differ from the expected by {diff}", output)
    return found


SINKHORN = """
import json, numpy as np, otswarm.ot
rng = np.random.default_rng(1)
x, y = rng.uniform(size=(40, 2)), rng.uniform(size=(30, 2))
M = ((x[:, None] - y[None]) ** 2).sum(-1)
a, b = np.full(40, 1 / 40), np.full(30, 1 / 30)
result = otswarm.ot.sinkhorn(a, b, M, 0.1, method="kernel", max_iter=5000, tol=1e-12)
K, v = np.exp(-M / 0.1), np.ones(30)
for plain_iter in range(1, 5001):
    u = a / (K @ v)
    v = b / (K.T @ u)
    if np.abs(u * (K @ v) - a).sum() < 1e-14:
        break
plan = u[:, None] * K * v[None]
print(json.dumps({"max_abs_diff": float(np.abs(plan - result.plan).max()),
                  "converged": bool(result.converged), "n_iter": int(result.n_iter),
                  "plain_iter": plain_iter}))
"""


def check_sinkhorn(venv: Path, cwd: Path) -> dict:
    """``otswarm.ot.sinkhorn`` gives the plan of a plain NumPy Sinkhorn loop run
    to convergence (row marginal within 1e-14; the columns are exact after each
    column update). Not a loop of as many iterations: the over-relaxed sweeps
    converge in fewer, so after ``n_iter`` of them the plain loop is still
    ``3.6e-8`` away."""
    output, _ = _python(venv, SINKHORN, cwd)
    found = json.loads(output.strip().splitlines()[-1])
    converged = found["converged"] and found["plain_iter"] < 5000
    _expect(converged and found["max_abs_diff"] < 1e-8, "Sinkhorn differs", output)
    return found


def check_demo(venv: Path, cwd: Path, broker: str, out: str, duration_s: float = 6.0) -> dict:
    """``otswarm demo --agents 2`` against ``broker``, writing to ``out`` (relative to
    ``cwd`` or absolute): report.json with both agents, the tables, no traceback."""
    argv = ["otswarm", "demo", "--agents", "2", "--duration", str(duration_s)]
    code, output, seconds = run(venv, [*argv, "--broker", broker, "--out", out], cwd)
    _no_noise(output)
    _expect(code == 0, f"demo exit status {code}", output)
    _expect(not re.search(r"after -\d", output), "a negative duration", output)
    report = json.loads((cwd / out / "report.json").read_text())
    _expect(sorted(report["agents"]) == ["agent-00", "agent-01"], "agents missing", output)
    _expect(len(report["rounds"]) > 0 and report["duration_s"] > 0, "no rounds", output)
    _expect("agent-00" in output and "total" in output.lower(), "no per-agent table", output)
    plots = (cwd / out / "swarm.png").exists()
    _expect(plots or PLOTS_HINT in output, "no plots and no line saying how to get them", output)
    return {"seconds": round(seconds, 1), "rounds": len(report["rounds"]), "plots": plots}


def check_all(venv: Path, broker: str, profile: str | None, expected: list | None) -> dict:
    """Every check in order, each from a fresh temporary directory; name -> result."""
    results: dict[str, dict] = {}

    def step(name, function, *args):
        with tempfile.TemporaryDirectory(prefix=f"otswarm-{name}-") as where:
            results[name] = function(venv, Path(where), *args)
        print(json.dumps({name: results[name]}), flush=True)

    step("top_level", check_top_level)
    step("version", check_version, results["top_level"]["version"])
    step("doctor_unreachable_broker", check_doctor_unreachable, profile)
    step("inference", check_inference, expected)
    step("warmup", check_warmup)
    step("sinkhorn", check_sinkhorn)
    step("demo_relative_out", check_demo, broker, "out/demo")
    with tempfile.TemporaryDirectory(prefix="otswarm-out-") as out:
        step("demo_absolute_out", check_demo, broker, str(Path(out) / "demo"))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venv", type=Path, help="the venv otswarm is installed in")
    parser.add_argument("--broker", required=True, help="mqtt://host:port the demo uses")
    parser.add_argument("--profile", help="the power profile the doctor must choose")
    parser.add_argument("--expect-probabilities", type=Path, help="JSON rows to match")
    parser.add_argument("--json", type=Path, help="write every result here")
    args = parser.parse_args(argv)
    expected = None
    if args.expect_probabilities:
        expected = json.loads(args.expect_probabilities.read_text())
    try:
        results = check_all(args.venv.resolve(), args.broker, args.profile, expected)
    except CheckFailed as exc:
        print(f"CHECK FAILED: {exc}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
