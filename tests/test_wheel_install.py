"""The wheel as a board gets it: ``pip wheel --no-deps`` of this checkout, installed
into a fresh venv with the ``bridge`` extra only (no report, broker, trainer or dev
extras), then used from a temporary directory outside the checkout.

The venv is built once per test session (PyPI or pip's cache supplies the
dependencies); every check is one of ``tests/wheel_checks.py``, which
``tests/arm64/smoke.sh`` runs on an emulated Raspberry Pi.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import wheel_checks as checks

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        check=True,
        timeout=600,
    )
    (found,) = out.glob("otswarm-*.whl")
    return found


@pytest.fixture(scope="session")
def venv(wheel, tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=300)
    pip = [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, f"{wheel}[bridge]"], check=True, timeout=1200)
    return where


def test_the_wheel_holds_only_the_otswarm_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"otswarm", wheel.name.split("-py3")[0] + ".dist-info"}
    for data in ("otswarm/policy/models/harvest_int8.tflite", "otswarm/profiles/rpi5.toml"):
        assert data in names
    assert not any(name.startswith("otswarm/bench") for name in names)


def test_the_venv_has_one_top_level_package_and_no_bare_names(venv, tmp_path):
    found = checks.check_top_level(venv, tmp_path)
    assert (
        found["version"]
        == subprocess.run(
            [sys.executable, "-c", "import otswarm; print(otswarm.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )


def test_the_venv_has_only_the_bridge_extra(venv, tmp_path):
    output, _ = checks._python(
        venv,
        "import importlib.util as u; print([n for n in ('serial', 'matplotlib', 'amqtt',"
        " 'tensorflow', 'pytest') if u.find_spec(n)])",
        tmp_path,
    )
    assert output.strip() == "['serial']"


def test_version(venv, tmp_path):
    checks.check_version(venv, tmp_path, checks.check_top_level(venv, tmp_path)["version"])


def test_doctor_with_a_broker_it_cannot_reach_prints_a_fail_line(venv, tmp_path):
    """The FAIL line, and the board line naming the profile the checkout detects here."""
    from otswarm.energy.board import detect_board

    here = detect_board().profile
    found = checks.check_doctor_unreachable(venv, tmp_path, profile=here)
    assert f"profile {here}" in found["lines"]["board"]


def test_the_shipped_policy_gives_the_checkout_s_probabilities(venv, tmp_path):
    expected = checks.check_inference(Path(sys.prefix), tmp_path)["probabilities"]
    found = checks.check_inference(venv, tmp_path, expected)
    assert found["max_abs_diff_to_expected"] == 0.0


def test_warmup_fills_the_cache_the_doctor_reads(venv, tmp_path):
    found = checks.check_warmup(venv, tmp_path)
    assert "warm" in found["doctor"]


def test_sinkhorn_matches_a_numpy_loop(venv, tmp_path):
    assert checks.check_sinkhorn(venv, tmp_path)["max_abs_diff"] < 1e-8


@pytest.mark.parametrize("absolute", [False, True], ids=["relative-out", "absolute-out"])
def test_demo_with_two_agents_from_a_temporary_directory(venv, tmp_path, mqtt_broker, absolute):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out = str(tmp_path / "elsewhere" / "demo") if absolute else "out/demo"
    found = checks.check_demo(venv, cwd, mqtt_broker.url, out)
    assert found["plots"] is False  # no report extra: the hint line instead
