"""The public Python API: README names the modules ``make docs`` documents, and pdoc
builds their reference from the docstrings."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _make_variable(name: str) -> list[str]:
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    (value,) = re.findall(rf"^{name} := (.*)$", text, flags=re.MULTILINE)
    return shlex.split(value)


def _readme_modules() -> list[str]:
    section = (REPO / "README.md").read_text().split("## Python API")[1].split("\n## ")[0]
    return re.findall(r"^\| `(otswarm[\w.]*)` \|", section, flags=re.MULTILINE)


def test_readme_names_the_modules_make_docs_documents():
    assert _readme_modules() == _make_variable("API_MODULES")
    assert "otswarm.ot" in _readme_modules()


def test_pdoc_builds_the_reference_of_every_public_module(tmp_path):
    """What ``make docs`` runs (its flags, modules and exclusions read from the Makefile)."""
    modules = _make_variable("API_MODULES")
    flags = [*_make_variable("PDOC_FLAGS"), "--output-directory", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "pdoc", *flags, *modules, *_make_variable("API_EXCLUDE")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for module in modules:
        assert (tmp_path / (module.replace(".", "/") + ".html")).is_file(), module
    ot = (tmp_path / "otswarm" / "ot.html").read_text()
    assert "sinkhorn_unbalanced" in ot and "OTResult" in ot
    assert "Error importing" not in done.stderr
    assert not (tmp_path / "otswarm" / "firmware_bridge" / "firmware").exists()
