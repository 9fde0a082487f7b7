"""One direction of dependencies (../shared/DESIGN.md, issue #13), read from the source.

Every ``import`` of every module the distribution installs is parsed (module level
and inside functions) into a graph of ``otswarm.*`` modules. The graph must have:
the bridge importing nothing from the rest of otswarm; no import circle in the
trainer; the runtime reaching the trainer only lazily, inside the ``train`` and
``export`` commands; no bare ``runtime``/``trainer``/``firmware_bridge``/``profiles``/
``bench`` anywhere. Each rule is also run against a small tree that breaks it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]
BARE = ("runtime", "trainer", "firmware_bridge", "profiles", "bench")
BRIDGE, TRAINER, PROFILES = "otswarm.firmware_bridge", "otswarm.trainer", "otswarm.profiles"
# the only runtime modules that may reach the trainer, and only inside a function
TRAINER_GATES = ("otswarm.commands.train", "otswarm.commands.export")
# the MCU's /main.py imports from the microcontroller's own file tree, where
# firmware_bridge/ sits at the root (docs/serial-protocol.md); it never runs on the host
MCU_MAIN = "otswarm.firmware_bridge.firmware.main"


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` (a module name) at ``line``; ``lazy`` inside a function."""

    source: str
    target: str
    line: int
    lazy: bool


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def package_folders() -> dict[str, Path]:
    """Each listed package -> its folder, by the ``package-dir`` mapping of pyproject.toml."""
    mapping = _setuptools()["package-dir"]
    folders = {}
    for package in _setuptools()["packages"]:
        root = max((p for p in mapping if package == p or package.startswith(p + ".")), key=len)
        rest = package[len(root) :].lstrip(".")
        folders[package] = (
            REPO / mapping[root] / Path(*rest.split(".")) if rest else (REPO / mapping[root])
        )
    return folders


def installed_sources() -> dict[str, str]:
    """Module name -> source text of every ``.py`` file the wheel installs."""
    sources = {}
    for package, folder in package_folders().items():
        for path in sorted(folder.glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            sources[name] = path.read_text()
    return sources


def _is_package(name: str, sources: dict[str, str]) -> bool:
    return any(other.startswith(name + ".") for other in sources)


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, sources: dict[str, str]):
        self.module, self.sources, self.depth = module, sources, 0
        self.found: list[tuple[str, int, bool]] = []

    def _function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import):
        for alias in node.names:
            self.found.append((alias.name, node.lineno, self.depth > 0))

    def visit_ImportFrom(self, node: ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = self.module.split(".")
            if not _is_package(self.module, self.sources):
                parts = parts[:-1]
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            target = sub if sub in self.sources else base
            self.found.append((target, node.lineno, self.depth > 0))


def import_edges(sources: dict[str, str]) -> list[Edge]:
    """Every import in ``sources`` (module name -> source), relative ones resolved."""
    edges = []
    for module, text in sources.items():
        visitor = _Imports(module, sources)
        visitor.visit(ast.parse(text, filename=module))
        edges += [Edge(module, target, line, lazy) for target, line, lazy in visitor.found]
    return edges


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def bridge_violations(edges: list[Edge]) -> list[Edge]:
    """Imports from the bridge into the rest of otswarm."""
    return [
        e
        for e in edges
        if _inside(e.source, BRIDGE)
        and _inside(e.target, "otswarm")
        and not _inside(e.target, BRIDGE)
    ]


def runtime_trainer_violations(edges: list[Edge]) -> list[Edge]:
    """Runtime imports of the trainer other than lazy ones in the train/export commands."""
    return [
        e
        for e in edges
        if not _inside(e.source, TRAINER)
        and _inside(e.target, TRAINER)
        and not (e.lazy and e.source in TRAINER_GATES)
    ]


def bare_imports(edges: list[Edge]) -> list[Edge]:
    """Imports of a bare ``runtime``, ``trainer``, ... instead of ``otswarm.*``."""
    return [e for e in edges if e.target.split(".")[0] in BARE and e.source != MCU_MAIN]


def circles(edges: list[Edge], within: str) -> list[list[str]]:
    """The import circles among modules under ``within`` (Tarjan's strongly connected
    components of size > 1, or a module importing itself), lazy imports included.

    One kind of edge is left out: a lazy import, inside a function, of the module's
    own package (``otswarm.ot.warmup`` calling the public ``otswarm.ot.sinkhorn``);
    by the time it runs the package has been imported, so it cannot close a circle."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        own_package = e.lazy and _inside(e.source, e.target) and e.source != e.target
        if _inside(e.source, within) and _inside(e.target, within) and not own_package:
            graph.setdefault(e.source, set()).add(e.target)
            graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    return import_edges(installed_sources())


def test_the_package_list_holds_every_folder_that_is_installed():
    """pyproject.toml names packages one by one: a folder left out is silently not in
    the wheel (the data-only ``otswarm.policy.models`` included)."""
    folders = package_folders()
    mapping = _setuptools()["package-dir"]
    expected = set()
    for root, folder in mapping.items():
        for path in [REPO / folder, *(REPO / folder).rglob("*")]:
            if path.is_dir() and path.name != "__pycache__" and any(path.iterdir()):
                rest = path.relative_to(REPO / folder).parts
                expected.add(".".join((root, *rest)))
    assert set(folders) == expected
    assert all(path.is_dir() for path in folders.values())
    assert "otswarm.policy.models" in folders


def test_the_graph_sees_the_project(edges):
    """The parser finds the imports it must: a relative one in the bridge, a lazy one in
    the train command, an absolute one in the runtime."""
    pairs = {(e.source, e.target, e.lazy) for e in edges}
    assert ("otswarm.firmware_bridge.link", "otswarm.firmware_bridge.errors", False) in pairs
    assert ("otswarm.commands.train", "otswarm.trainer.cli", True) in pairs
    assert ("otswarm.cli", "otswarm.errors", False) in pairs
    assert len({e.source for e in edges}) > 100


def test_the_bridge_imports_nothing_from_the_runtime(edges):
    assert bridge_violations(edges) == []


def test_the_runtime_reaches_the_trainer_only_inside_train_and_export(edges):
    assert runtime_trainer_violations(edges) == []


def test_nothing_imports_a_bare_top_level_name(edges):
    assert bare_imports(edges) == []


def test_the_trainer_has_no_import_circle(edges):
    assert circles(edges, TRAINER) == []


def test_no_import_circle_anywhere(edges):
    assert circles(edges, "otswarm") == []


BROKEN = {
    "otswarm": "",
    "otswarm.errors": "",
    "otswarm.commands": "",
    "otswarm.commands.train": "def run():\n    from otswarm.trainer import cli\n",
    "otswarm.commands.agent": "import otswarm.trainer.cli\n",
    "otswarm.agent": "def f():\n    from otswarm.trainer.pipeline import ship\n",
    "otswarm.firmware_bridge": "",
    "otswarm.firmware_bridge.link": "from .errors import BridgeError\nfrom .. import errors\n",
    "otswarm.firmware_bridge.errors": "from otswarm.errors import OtswarmError\n",
    "otswarm.trainer": "",
    "otswarm.trainer.cli": "def run():\n    from otswarm.trainer.pipeline import ship\n",
    "otswarm.trainer.pipeline": "def ship():\n    from .cli import command_line\n",
    "otswarm.trainer.ablation": "import otswarm.trainer.ablation\nimport trainer.cli\n",
    "otswarm.trainer.envs": "import otswarm.trainer.envs.spread\n",
    "otswarm.trainer.envs.spread": "def make():\n    from otswarm.trainer.envs import reg\n",
    "otswarm.trainer.envs.harvest": "from otswarm.trainer import envs\n",
}


def test_each_rule_catches_a_tree_that_breaks_it():
    broken = import_edges(BROKEN)
    assert {(e.source, e.target) for e in bridge_violations(broken)} == {
        ("otswarm.firmware_bridge.link", "otswarm.errors"),
        ("otswarm.firmware_bridge.errors", "otswarm.errors"),
    }
    assert {(e.source, e.lazy) for e in runtime_trainer_violations(broken)} == {
        ("otswarm.commands.agent", False),
        ("otswarm.agent", True),
    }
    assert [e.target for e in bare_imports(broken)] == ["trainer.cli"]
    # envs.spread's lazy import of its own package is no circle; a self-import is
    assert circles(broken, TRAINER) == [
        ["otswarm.trainer.ablation"],
        ["otswarm.trainer.cli", "otswarm.trainer.pipeline"],
    ]


def test_an_installed_otswarm_has_no_bare_top_level_package(tmp_path):
    """From a directory outside the checkout, only ``otswarm`` is importable."""
    code = (
        "import importlib.util, json, otswarm\n"
        f"print(json.dumps([n for n in {BARE!r} if importlib.util.find_spec(n)]))\n"
        "print(otswarm.__file__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    bare, where = done.stdout.split("\n")[:2]
    assert bare == "[]"
    assert Path(where).parent.name == "runtime" or "site-packages" in where


def _declared_and_read(text: str) -> tuple[set[str], set[str]]:
    """Option names a module declares (``add_argument``, ``add_subparsers(dest=)``,
    ``set_defaults``) and the ``args.NAME`` it reads."""
    declared, read = set(), set()
    for node in ast.walk(ast.parse(text)):
        is_name = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if is_name and node.value.id == "args":
            read.add(node.attr)
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        if node.func.attr in ("add_argument", "add_subparsers") and "dest" in keywords:
            declared.add(ast.literal_eval(keywords["dest"]))
        elif node.func.attr == "add_argument":
            flags = [ast.literal_eval(a) for a in node.args]
            name = next((f for f in flags if f.startswith("--")), flags[0])
            declared.add(name.lstrip("-").replace("-", "_"))
        elif node.func.attr == "set_defaults":
            declared |= set(keywords)
    return declared, read


def test_the_trainer_options_are_declared_where_they_are_read():
    sources = installed_sources()
    declared, read = _declared_and_read(sources["otswarm.trainer.cli"])
    assert {"align", "quantization_aware", "train_command", "model"} <= declared
    assert read and read <= declared
    for gate in TRAINER_GATES:
        assert _declared_and_read(sources[gate])[0] == set(), gate
    # the check itself: an option read but declared elsewhere is seen
    moved = "def add(p):\n    p.add_argument('--n-envs')\n\ndef run(args):\n    args.align\n"
    assert _declared_and_read(moved) == ({"n_envs"}, {"align"})
