"""The ledger's file: SQLite in WAL mode, its schema and its queries.

WAL lets other processes read a ledger while its agent writes it (the demo
reads every agent's ledger at the end; ``otswarm profile`` reads live ones).
``synchronous=NORMAL``: a committed transaction survives the writer being
killed; only an OS crash or power cut may lose the transactions since the last
WAL checkpoint. One row of ``entries`` is the energy booked to one component
by one agent during one commit window, [t0, t1] (s, Unix time); ``samples`` is
the meter trace.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from otswarm.energy.errors import LedgerError
from otswarm.energy.meters.base import PowerSample

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    agent TEXT NOT NULL, component TEXT NOT NULL, t0 REAL NOT NULL, t1 REAL NOT NULL,
    joules REAL NOT NULL, seconds REAL NOT NULL, bytes INTEGER NOT NULL, count INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS entries_by_time ON entries (agent, t1);
CREATE TABLE IF NOT EXISTS samples (
    agent TEXT NOT NULL, t REAL NOT NULL, watts REAL NOT NULL, joules REAL NOT NULL,
    source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS samples_by_time ON samples (agent, t);
"""


@dataclass(frozen=True)
class Entry:
    """Energy booked to ``component`` by ``agent`` over [t0, t1] (s): ``joules`` (J),
    measured ``seconds`` of work (s), ``bytes`` moved and ``count`` of bookings."""

    agent: str
    component: str
    t0: float
    t1: float
    joules: float
    seconds: float
    bytes: int
    count: int


def open_for_writing(path: str | Path) -> sqlite3.Connection:
    """Create or open a ledger file for appending (WAL, synchronous=NORMAL)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
        )
    except (OSError, sqlite3.Error) as exc:
        raise LedgerError(f"{path}: cannot open ledger for writing: {exc}") from exc
    return conn


def open_for_reading(path: str | Path) -> sqlite3.Connection:
    """Open an existing ledger read-only; works while its writer is running."""
    path = Path(path)
    if not path.is_file():
        raise LedgerError(f"{path}: no such ledger file")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("PRAGMA busy_timeout=5000")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.Error as exc:
        raise LedgerError(f"{path}: not an otswarm ledger ({exc})") from exc
    if row is None or row[0] != SCHEMA_VERSION:
        raise LedgerError(f"{path}: ledger schema {row and row[0]!r}, expected {SCHEMA_VERSION}")
    return conn


def _where(agent: str | None, since: float | None, until: float | None, t: str) -> tuple:
    clauses, args = [], []
    if agent is not None:
        clauses.append("agent = ?")
        args.append(agent)
    if since is not None:
        clauses.append(f"{t} >= ?")
        args.append(since)
    if until is not None:
        clauses.append(f"{t} < ?")
        args.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


class LedgerQueries:
    """Queries shared by the writer and :class:`LedgerReader`. Time ranges are
    half-open, since <= t < until, on an entry's end time ``t1`` (so their
    resolution is the writer's commit window) and on a sample's ``t``."""

    _conn: sqlite3.Connection

    def _query(self, sql: str, args: list) -> list[tuple]:
        return self._conn.execute(sql, args).fetchall()

    def agents(self) -> list[str]:
        """Agent ids with entries or samples in this file."""
        rows = self._query("SELECT agent FROM entries UNION SELECT agent FROM samples", [])
        return sorted(r[0] for r in rows)

    def meta(self) -> dict[str, str]:
        """The file's metadata (``schema``, ``profile.<agent>``, ``meter.<agent>``, ...)."""
        return dict(self._query("SELECT key, value FROM meta", []))

    def totals(
        self, agent: str | None = None, *, since: float | None = None, until: float | None = None
    ) -> dict[str, dict[str, float]]:
        """Joules per agent and component: ``{agent: {component: J}}``."""
        where, args = _where(agent, since, until, "t1")
        rows = self._query(
            f"SELECT agent, component, SUM(joules) FROM entries{where} "
            "GROUP BY agent, component ORDER BY agent, component",
            args,
        )
        out: dict[str, dict[str, float]] = {}
        for a, component, joules in rows:
            out.setdefault(a, {})[component] = joules
        return out

    def entries(
        self,
        agent: str | None = None,
        component: str | None = None,
        *,
        since: float | None = None,
        until: float | None = None,
    ) -> list[Entry]:
        """Ledger rows in time order, filtered by agent, component and time range."""
        where, args = _where(agent, since, until, "t1")
        if component is not None:
            where += (" AND" if where else " WHERE") + " component = ?"
            args.append(component)
        rows = self._query(
            "SELECT agent, component, t0, t1, joules, seconds, bytes, count "
            f"FROM entries{where} ORDER BY t1, rowid",
            args,
        )
        return [Entry(*row) for row in rows]

    def samples(
        self, agent: str | None = None, *, since: float | None = None, until: float | None = None
    ) -> list[PowerSample]:
        """The meter trace in time order."""
        where, args = _where(agent, since, until, "t")
        rows = self._query(f"SELECT t, watts, joules, source FROM samples{where} ORDER BY t", args)
        return [PowerSample(*row) for row in rows]

    def time_span(self, agent: str | None = None) -> tuple[float, float] | None:
        """(first, last) time with an entry or a sample, or None for an empty ledger."""
        where, args = _where(agent, None, None, "t")
        rows = self._query(
            f"SELECT MIN(t0), MAX(t1) FROM entries{where} "
            f"UNION ALL SELECT MIN(t), MAX(t) FROM samples{where}",
            args * 2,
        )
        firsts = [r[0] for r in rows if r[0] is not None]
        lasts = [r[1] for r in rows if r[1] is not None]
        return (min(firsts), max(lasts)) if firsts else None


class LedgerReader(LedgerQueries):
    """Read-only view of a ledger file, safe while another process writes it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = open_for_reading(self.path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
