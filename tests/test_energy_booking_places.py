"""Each joule has one booking place: the ledger's docstring says which module books
each component, and the source of otswarm says the same (issue #14).

A booking is a call ``x.measure("c")``, ``x.book("c", ...)``, ``x.book_bytes("c", ...)``
or ``x._add("c", ...)``. When the component is a variable, the component names
written in the same function count (``for c, j in (("energy_out", ...), ...)``);
with none there (the ledger passing its argument on) it is no booking place.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from otswarm.energy import ledger

RUNTIME = Path(__file__).resolve().parents[1] / "runtime"
BOOKING_CALLS = {"measure", "book", "book_bytes", "_add"}
COMPONENTS = {*ledger.SPENT_COMPONENTS, *ledger.ALLOCATION_COMPONENTS}


def _functions(tree: ast.AST):
    """Each function with the calls written directly in it (nested defs apart)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def booking_places(sources: dict[str, str]) -> dict[str, set[str]]:
    """Component -> the modules that book it, read from ``{module: source}``."""
    places: dict[str, set[str]] = {}
    for module, source in sources.items():
        for fn in _functions(ast.parse(source)):
            named = {
                n.value
                for n in ast.walk(fn)
                if isinstance(n, ast.Constant) and n.value in COMPONENTS
            }
            for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
                if not (
                    isinstance(call.func, ast.Attribute)
                    and call.func.attr in BOOKING_CALLS
                    and call.args
                ):
                    continue
                first = call.args[0]
                if isinstance(first, ast.Constant) and first.value in COMPONENTS:
                    booked = {first.value}
                elif isinstance(first, ast.Name):
                    booked = named
                else:
                    booked = set()
                for component in booked:
                    places.setdefault(component, set()).add(module)
    return places


def documented_places(doc: str) -> dict[str, set[str]]:
    """Component -> modules, from the docstring's "Where an agent books each one" list."""
    section = doc.split("Where an agent books each one", 1)[1].split("\n\n", 2)[1]
    places: dict[str, set[str]] = {}
    for item in re.split(r"\n- ", "\n" + section.strip())[1:]:
        head, body = item.split(":", 1)
        modules = set(re.findall(r"``(otswarm(?:\.\w+)+)``", body))
        for component in re.findall(r"``(\w+)``", head):
            places[component] = modules
    return places


def runtime_sources() -> dict[str, str]:
    sources = {}
    for path in RUNTIME.rglob("*.py"):
        rel = path.relative_to(RUNTIME).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        sources[".".join(["otswarm", *parts])] = path.read_text()
    return sources


def test_every_component_is_booked_where_the_ledger_docstring_says():
    documented = documented_places(ledger.__doc__)
    assert set(documented) == COMPONENTS  # every standard component is listed
    assert booking_places(runtime_sources()) == documented


def test_a_second_booking_place_is_caught():
    """The check itself, attacked: a module booking ``serial`` beside the actuator,
    and the loop's variable-component booking written as a loop over names."""
    sources = {
        "otswarm.agent.act": "def book_serial(self):\n    self.ledger.book_bytes('serial', 3)\n",
        "otswarm.agent.sneaky": "def f(ledger):\n    ledger.book_bytes('serial', 1)\n",
        "otswarm.agent.loop": (
            "def _book(self, rec):\n"
            "    for c, j in (('energy_out', rec.g), ('energy_in', rec.r)):\n"
            "        self.ledger.book(c, j)\n"
        ),
        "otswarm.energy.ledger": (
            "def book_bytes(self, component, n):\n    self.book(component, 1)\n"
        ),
    }
    places = booking_places(sources)
    assert places["serial"] == {"otswarm.agent.act", "otswarm.agent.sneaky"}
    assert places["energy_in"] == places["energy_out"] == {"otswarm.agent.loop"}
    assert set(places) == {"serial", "energy_in", "energy_out"}  # forwarding is no place
    doc = ledger.__doc__.replace("- ``serial``: ``otswarm.agent.act``", "- ``serial``: nobody")
    assert documented_places(doc)["serial"] == set()
