"""Energy report of one or more ledgers: per agent and component, joules, mean
power and share, plus the power trace. Pure data; plots are in
:mod:`otswarm.energy.plots`, the command in :mod:`otswarm.commands.profile`.

For an agent observed over T seconds (first to last booking):

    mean power of a component  = E_component / T                       (W)
    share of a component       = E_component / sum of spent energy      (1)
    power over time, bin k     = spent energy falling in bin k / bin width  (W)

Allocation (``energy_in``/``energy_out``) is reported apart and never counted
as spent.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from otswarm.energy.errors import LedgerError
from otswarm.energy.ledger import ALLOCATION_COMPONENTS, LEDGER_SUFFIX, SPENT_COMPONENTS
from otswarm.energy.store import Entry, LedgerReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComponentRow:
    """One line of an agent's table: ``joules`` (J), ``mean_w`` (W), ``share`` (0..1)."""

    component: str
    joules: float
    mean_w: float
    share: float


@dataclass(frozen=True)
class AgentReport:
    """Energy of one agent: spent rows (largest first), allocation totals (J), the
    observed span (s, Unix time), measured meter energy (J, None without samples)
    and the power trace (bin start times in s since ``t_start``, watts)."""

    agent: str
    ledger: str
    t_start: float
    t_end: float
    rows: list[ComponentRow]
    allocation: dict[str, float]
    measured_j: float | None
    trace_t: list[float] = field(default_factory=list)
    trace_w: list[float] = field(default_factory=list)
    bin_s: float = 1.0
    board: str = ""

    @property
    def label(self) -> str:
        """The agent id, with its board profile when known: ``a1 (rpi5)``."""
        return f"{self.agent} ({self.board})" if self.board else self.agent

    @property
    def duration_s(self) -> float:
        return max(self.t_end - self.t_start, 0.0)

    @property
    def spent_j(self) -> float:
        return sum(row.joules for row in self.rows)

    @property
    def unattributed_j(self) -> float | None:
        """Measured minus booked energy (J): what the board drew that no component
        accounts for (on a board with an MCU meter, mostly the workload its duty
        level runs). None without meter samples."""
        return None if self.measured_j is None else self.measured_j - self.spent_j


def find_ledgers(paths: Iterable[str | Path]) -> list[Path]:
    """Ledger files named directly, or found (``*.ledger.sqlite``) under directories."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(path.rglob(f"*{LEDGER_SUFFIX}")))
        elif path.is_file():
            found.append(path)
        else:
            raise LedgerError(f"{path}: no such ledger file or run directory")
    if not found:
        raise LedgerError(f"no *{LEDGER_SUFFIX} ledger under {', '.join(map(str, paths))}")
    return found


def component_order(component: str) -> tuple[int, str]:
    """Standard components first, in their documented order, then the others."""
    order = (*SPENT_COMPONENTS, *ALLOCATION_COMPONENTS)
    return (order.index(component) if component in order else len(order), component)


def _trace(entries: Sequence[Entry], t_start: float, t_end: float, bin_s: float) -> tuple:
    """Spent energy per bin / bin width. An entry spanning [t0, t1] is spread over
    the bins it overlaps in proportion to the overlap; a point entry goes to its bin."""
    n_bins = max(1, math.ceil((t_end - t_start) / bin_s))
    joules = [0.0] * n_bins

    def bin_of(t: float) -> int:
        return min(n_bins - 1, max(0, int((t - t_start) // bin_s)))

    for entry in entries:
        if entry.component in ALLOCATION_COMPONENTS:
            continue
        first, last = bin_of(entry.t0), bin_of(entry.t1)
        if entry.t1 <= entry.t0 or first == last:
            joules[last] += entry.joules
            continue
        rate = entry.joules / (entry.t1 - entry.t0)
        for k in range(first, last + 1):
            lo = max(entry.t0, t_start + k * bin_s)
            hi = min(entry.t1, t_start + (k + 1) * bin_s)
            joules[k] += rate * max(0.0, hi - lo)
    return [k * bin_s for k in range(n_bins)], [j / bin_s for j in joules]


def agent_report(
    reader: LedgerReader,
    agent: str,
    *,
    since: float | None = None,
    until: float | None = None,
    bin_s: float | None = None,
) -> AgentReport:
    """The report of ``agent`` in ``reader`` over [since, until) (s, Unix time)."""
    entries = reader.entries(agent, since=since, until=until)
    samples = reader.samples(agent, since=since, until=until)
    times = [e.t0 for e in entries] + [e.t1 for e in entries] + [s.t for s in samples]
    if not times:
        raise LedgerError(f"{reader.path}: agent {agent!r} has nothing in the time range")
    t_start, t_end = min(times), max(times)
    duration = max(t_end - t_start, 1e-9)
    totals: dict[str, float] = {}
    for entry in entries:
        totals[entry.component] = totals.get(entry.component, 0.0) + entry.joules
    spent = {c: j for c, j in totals.items() if c not in ALLOCATION_COMPONENTS}
    spent_total = sum(spent.values()) or 1.0
    rows = [
        ComponentRow(c, j, j / duration, j / spent_total)
        for c, j in sorted(spent.items(), key=lambda item: component_order(item[0]))
    ]
    allocation = {c: totals.get(c, 0.0) for c in ALLOCATION_COMPONENTS}
    measured = samples[-1].joules - samples[0].joules if len(samples) > 1 else None
    bin_s = bin_s or max(1.0, duration / 120)
    trace_t, trace_w = _trace(entries, t_start, t_end, bin_s)
    board = reader.meta().get(f"profile.{agent}", "")
    return AgentReport(
        agent,
        str(reader.path),
        t_start,
        t_end,
        rows,
        allocation,
        measured,
        trace_t,
        trace_w,
        bin_s,
        board,
    )


def build_reports(
    paths: Iterable[str | Path],
    *,
    since: float | None = None,
    until: float | None = None,
    bin_s: float | None = None,
) -> list[AgentReport]:
    """One report per agent found in the ledgers under ``paths``, sorted by agent."""
    reports = []
    for path in find_ledgers(paths):
        with LedgerReader(path) as reader:
            for agent in reader.agents():
                try:
                    reports.append(
                        agent_report(reader, agent, since=since, until=until, bin_s=bin_s)
                    )
                except LedgerError as exc:
                    log.info("skipping: %s", exc)
    return sorted(reports, key=lambda r: r.agent)


def report_json(reports: Sequence[AgentReport]) -> dict:
    """The reports as a JSON-ready dict keyed by agent (J, W, shares in 0..1)."""
    return {
        "agents": {
            r.agent: {
                "ledger": r.ledger,
                "board": r.board,
                "duration_s": r.duration_s,
                "spent_j": r.spent_j,
                "measured_j": r.measured_j,
                "unattributed_j": r.unattributed_j,
                "components": {
                    row.component: {"joules": row.joules, "mean_w": row.mean_w, "share": row.share}
                    for row in r.rows
                },
                "allocation_j": r.allocation,
            }
            for r in reports
        }
    }
