"""Per-agent energy ledger: joules attributed to components, persisted every commit window.

Components (any lower-case name is accepted; these are the standard ones):

- spent: ``ot`` (OT solves), ``policy`` (inference), ``mqtt_tx``/``mqtt_rx``
  (radio bytes), ``serial`` (MCU link bytes), ``idle`` (the board's baseline);
- moved by allocation, kept apart from spent energy: ``energy_in``, ``energy_out``.

Where an agent books each one (the only modules of otswarm that do; a test
reads the source and fails when another one books a component):

- ``policy``: ``otswarm.agent.loop``, spans around each inference (decide and
  rollout stages);
- ``ot``: ``otswarm.agent.loop``, spans around the OT work of the tick (the
  aligned push-forward, the drift monitor, the grouping and the consensus
  move), and ``otswarm.coordination.rounds``, the span of a plan solve (the
  ``measure`` the agent's build gives :class:`AllocationRound`, whose skip rule
  reads the span's joules);
- ``mqtt_tx``, ``mqtt_rx``: ``otswarm.agent.traffic`` (``LinkTraffic.book``,
  called by the loop's book stage and at close);
- ``serial``: ``otswarm.agent.act`` (``BridgeActuator.book_serial``, called by
  the loop's book stage and at close);
- ``idle``: ``otswarm.energy.ledger`` itself (``EnergyLedger.tick``, on its
  background thread);
- ``energy_out``, ``energy_in``: ``otswarm.agent.loop`` (the book stage, with
  the joules the MCU says it moved in the act stage).

How energy is priced (profile values in W and J/B):

- ``measure(c)`` with basis ``"thread"`` (default): E = thread CPU seconds x
  ``per_core_w`` (this thread's work only, so other agents and threads on the
  same cores are not billed to it); ``"process"``: process CPU seconds x
  ``per_core_w``; ``"wall"``: wall seconds x dynamic power, where dynamic power =
  last meter reading - ``idle_w`` (>= 0), or ``per_core_w`` without a meter;
- ``book_bytes(c, n)``: E = n x J/B of the profile (radio tx/rx, serial);
- ``idle``: ``idle_w`` x elapsed wall time, booked at every tick;
- ``book(c, J)``: energy the caller measured or computed itself.

Persistence: bookings are summed in memory per component and written by a
background thread every ``commit_interval_s`` (0.5 s by default) in one SQLite
transaction (see :mod:`otswarm.energy.store`), so an agent killed with SIGKILL
loses at most its last commit window. The same thread samples the meter.
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from otswarm.energy.errors import LedgerError, MeterError
from otswarm.energy.meters.base import Clock, PowerMeter, PowerSample
from otswarm.energy.profile import BoardProfile
from otswarm.energy.store import LedgerQueries, open_for_writing

log = logging.getLogger(__name__)

SPENT_COMPONENTS = ("ot", "policy", "mqtt_tx", "mqtt_rx", "serial", "idle")
ALLOCATION_COMPONENTS = ("energy_in", "energy_out")
BYTE_PRICED_COMPONENTS = ("mqtt_tx", "mqtt_rx", "serial")
LEDGER_SUFFIX = ".ledger.sqlite"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_BASES = {"thread": time.thread_time, "process": time.process_time, "wall": time.perf_counter}


def ledger_path(run_dir: str | Path, agent_id: str) -> Path:
    """Where an agent's ledger lives in a run directory: ``<run_dir>/<agent>.ledger.sqlite``."""
    return Path(run_dir) / f"{agent_id}{LEDGER_SUFFIX}"


def _check_component(component: str) -> None:
    if not isinstance(component, str) or not _NAME.fullmatch(component):
        raise LedgerError(
            f"component must be a lower-case name like 'ot' or 'mqtt_tx', got {component!r}"
        )


@dataclass
class Span:
    """What one ``measure`` block cost: ``seconds`` of the chosen basis and ``joules``."""

    component: str
    basis: str
    seconds: float = 0.0
    joules: float = 0.0


class _Pending:
    """Bookings of one component since the last commit."""

    __slots__ = ("bytes", "count", "joules", "seconds", "t0", "t1")

    def __init__(self, t: float) -> None:
        self.t0 = self.t1 = t
        self.joules = self.seconds = 0.0
        self.bytes = self.count = 0


class EnergyLedger(LedgerQueries):
    """The energy ledger of one agent, writing to ``path``.

    ``meter`` (optional) is sampled every ``sample_period_s`` (default: the
    meter's own period) into the power trace; ``start=False`` runs no background
    thread, and the caller calls :meth:`tick` itself.
    """

    def __init__(
        self,
        path: str | Path,
        agent_id: str,
        profile: BoardProfile,
        meter: PowerMeter | None = None,
        *,
        sample_period_s: float | None = None,
        commit_interval_s: float = 0.5,
        clock: Clock = time.time,
        start: bool = True,
    ) -> None:
        if not agent_id or not agent_id.isprintable():
            raise LedgerError(f"agent id must be a printable, non-empty string, got {agent_id!r}")
        if not 0 < commit_interval_s <= 1.0:
            raise LedgerError(f"commit_interval_s must be in (0, 1] s, got {commit_interval_s!r}")
        self.path = Path(path)
        self.agent_id = agent_id
        self.profile = profile
        self.meter = meter
        self.commit_interval_s = commit_interval_s
        self.sample_period_s = sample_period_s or (meter.sample_period_s if meter else 1.0)
        self._clock = clock
        self._conn = open_for_writing(self.path)
        self._lock = threading.Lock()  # guards _pending
        self._db_lock = threading.Lock()  # guards _conn
        self._pending: dict[str, _Pending] = {}
        self._booked: dict[str, float] = {}  # joules per component booked by this object
        self._booked_until: dict[str, float] = {}  # the latest t1 of each component
        self._samples: list[tuple] = []
        self._last_watts: float | None = None
        self._idle_since = self._last_sample_t = self._clock()
        self._last_commit = 0.0
        self._meter_error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._write_meta()
        if start:
            self._thread = threading.Thread(
                target=self._run, name=f"ledger-{agent_id}", daemon=True
            )
            self._thread.start()

    # -- booking -----------------------------------------------------------------
    def book(
        self,
        component: str,
        joules: float,
        *,
        t: float | None = None,
        seconds: float = 0.0,
        n_bytes: int = 0,
    ) -> None:
        """Book ``joules`` (J, finite, >= 0) to ``component`` at time ``t`` (s, default now)."""
        _check_component(component)
        if not math.isfinite(joules) or joules < 0:
            raise LedgerError(f"{component}: joules must be finite and >= 0, got {joules!r}")
        t = self._clock() if t is None else t
        self._add(component, joules, t, t, seconds, n_bytes)

    def _add(
        self,
        component: str,
        joules: float,
        t0: float,
        t1: float,
        seconds: float,
        n_bytes: int,
        count: int = 1,
        *,
        new: bool = True,
    ) -> None:
        """Add to the pending bookings; ``new`` (not a failed commit's requeue) also to
        the running totals of :meth:`booked`."""
        with self._lock:
            if new:
                self._booked[component] = self._booked.get(component, 0.0) + joules
                self._booked_until[component] = max(self._booked_until.get(component, t1), t1)
            pending = self._pending.get(component)
            if pending is None:
                pending = self._pending[component] = _Pending(t0)
            pending.t0, pending.t1 = min(pending.t0, t0), max(pending.t1, t1)
            pending.joules += joules
            pending.seconds += seconds
            pending.bytes += n_bytes
            pending.count += count

    def book_bytes(self, component: str, n_bytes: int, *, t: float | None = None) -> float:
        """Book ``n_bytes`` sent/received on a byte-priced component; returns the joules."""
        if component not in BYTE_PRICED_COMPONENTS:
            raise LedgerError(
                f"{component!r} is not priced per byte (use one of {BYTE_PRICED_COMPONENTS})"
            )
        if not isinstance(n_bytes, int) or n_bytes < 0:
            raise LedgerError(f"{component}: n_bytes must be an int >= 0, got {n_bytes!r}")
        joules = n_bytes * self.profile.j_per_byte(component)
        self.book(component, joules, t=t, n_bytes=n_bytes)
        return joules

    @contextmanager
    def measure(self, component: str, *, basis: str = "thread") -> Iterator[Span]:
        """Time the block and book its energy to ``component`` (see the module doc)."""
        _check_component(component)
        if basis not in _BASES:
            raise LedgerError(f"basis must be one of {tuple(_BASES)}, got {basis!r}")
        timer = _BASES[basis]
        span = Span(component, basis)
        start = timer()
        try:
            yield span
        finally:
            span.seconds = max(0.0, timer() - start)
            span.joules = span.seconds * self._span_power_w(basis)
            self.book(component, span.joules, seconds=span.seconds)

    def _span_power_w(self, basis: str) -> float:
        if basis == "wall" and self._last_watts is not None:
            return max(0.0, self._last_watts - self.profile.idle_w)
        return self.profile.per_core_w

    def booked(self) -> dict[str, float]:
        """Joules per component this ledger booked since it was opened, committed or
        not: from memory, without a query or a commit (the telemetry reads it every
        period, so its cost does not grow with the rows of a long run)."""
        with self._lock:
            return dict(self._booked)

    def booked_until(self, component: str) -> float | None:
        """The latest time a booking of ``component`` since opening covers (None: none)."""
        with self._lock:
            return self._booked_until.get(component)

    # -- sampling and persistence ---------------------------------------------------
    def tick(self) -> PowerSample | None:
        """Sample the meter when due, book idle time, commit when due. The
        background thread calls this; call it yourself with ``start=False``."""
        now = self._clock()
        sample = None
        if self.meter is not None and now - self._last_sample_t >= self.sample_period_s * 0.999:
            sample = self._sample_meter()
            self._last_sample_t = now
        if now > self._idle_since:  # the idle entry spans the interval it covers
            idle_j = self.profile.idle_w * (now - self._idle_since)
            self._add("idle", idle_j, self._idle_since, now, 0.0, 0)
            self._idle_since = now
        if now - self._last_commit >= self.commit_interval_s * 0.999:
            self.flush()
        return sample

    def _sample_meter(self) -> PowerSample | None:
        try:
            sample = self.meter.read()
        except MeterError as exc:
            if str(exc) != self._meter_error:  # log each new problem once, keep booking
                log.warning("agent %s: meter %s: %s", self.agent_id, self.meter.source, exc)
                self._meter_error = str(exc)
            return None
        self._meter_error = ""
        self._last_watts = sample.watts
        with self._lock:
            self._samples.append(
                (self.agent_id, sample.t, sample.watts, sample.joules, sample.source)
            )
        return sample

    def flush(self) -> None:
        """Write every pending booking and sample in one transaction."""
        with self._lock:
            pending, self._pending = self._pending, {}
            samples, self._samples = self._samples, []
        rows = [
            (self.agent_id, c, p.t0, p.t1, p.joules, p.seconds, p.bytes, p.count)
            for c, p in pending.items()
        ]
        with self._db_lock:
            try:
                self._conn.execute("BEGIN")
                self._conn.executemany("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?)", rows)
                self._conn.executemany("INSERT INTO samples VALUES (?,?,?,?,?)", samples)
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._conn.rollback()
                log.error("agent %s: ledger %s: commit failed: %s", self.agent_id, self.path, exc)
                self._requeue(pending, samples)
                return
        self._last_commit = self._clock()

    def _requeue(self, pending: dict[str, _Pending], samples: list[tuple]) -> None:
        for component, p in pending.items():
            self._add(component, p.joules, p.t0, p.t1, p.seconds, p.bytes, p.count, new=False)
        with self._lock:
            self._samples[:0] = samples

    def _write_meta(self) -> None:
        meter = self.meter.source if self.meter else "none"
        items = {
            f"profile.{self.agent_id}": self.profile.id,
            f"meter.{self.agent_id}": meter,
            f"idle_w.{self.agent_id}": repr(self.profile.idle_w),
        }
        with self._db_lock:
            self._conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", items.items())

    def _run(self) -> None:
        period = min(self.sample_period_s, self.commit_interval_s)
        while not self._stop.wait(period):
            try:
                self.tick()
            except Exception:  # the ledger must never take the agent down
                log.exception("agent %s: ledger tick failed", self.agent_id)

    def _query(self, sql: str, args: list) -> list[tuple]:
        self.flush()
        with self._db_lock:
            return super()._query(sql, args)

    def close(self) -> None:
        """Stop the thread, book the last idle interval, commit and close; idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.tick()
        self.flush()
        with self._db_lock:
            self._conn.close()

    def __enter__(self) -> EnergyLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
