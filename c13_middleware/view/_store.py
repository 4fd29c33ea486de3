"""The viewer's SQLite store: schema, the writer thread, and the bounds (``max_spans``, ``retention``).

Receivers never write: ``submit`` queues a decoded request (all of its spans, or all of its profiles) and returns at
once; one writer thread commits queued requests in batches, each request whole. When the queue holds more than
``max_pending`` spans, ``submit`` refuses (the receiver answers 429 with Retry-After) and counts it. After each
batch the oldest traces (by start time) are deleted while more than ``max_spans`` spans are stored, and every few
seconds traces that ended longer than ``retention`` ago. Reads (``_queries.Queries``) use their own connections:
in WAL mode readers never wait for the writer.
"""

from __future__ import annotations

import collections
import logging
import os
import sqlite3
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._decode import ProfileDoc, SpanBatch, _dumps

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (key TEXT PRIMARY KEY, service TEXT NOT NULL, attributes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT NOT NULL, service TEXT NOT NULL,
    name TEXT NOT NULL, kind INTEGER NOT NULL, start_ns INTEGER NOT NULL, duration_ns INTEGER NOT NULL,
    status INTEGER NOT NULL, status_message TEXT NOT NULL, route TEXT NOT NULL, entry INTEGER NOT NULL,
    attributes TEXT NOT NULL, events TEXT NOT NULL, links TEXT NOT NULL, resource TEXT NOT NULL,
    scope TEXT NOT NULL, scope_version TEXT NOT NULL, flags INTEGER NOT NULL, trace_state TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS spans_trace ON spans (trace_id, span_id);
CREATE INDEX IF NOT EXISTS spans_service_start ON spans (service, start_ns);
CREATE INDEX IF NOT EXISTS spans_operation_start ON spans (service, name, start_ns);
CREATE INDEX IF NOT EXISTS spans_entry_route ON spans (service, route, duration_ns) WHERE entry = 1;
CREATE INDEX IF NOT EXISTS spans_entry_duration ON spans (duration_ns) WHERE entry = 1;
CREATE TABLE IF NOT EXISTS operations (
    service TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL, PRIMARY KEY (service, name, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, spans INTEGER NOT NULL,
    errors INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_start ON traces (start_ns);
CREATE INDEX IF NOT EXISTS traces_end ON traces (end_ns);
CREATE TABLE IF NOT EXISTS profiles (
    profile_id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, span_id TEXT NOT NULL, service TEXT NOT NULL,
    name TEXT NOT NULL, start_ns INTEGER NOT NULL, duration_ns INTEGER NOT NULL, received_ns INTEGER NOT NULL,
    document BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS profiles_trace ON profiles (trace_id, span_id);
CREATE INDEX IF NOT EXISTS profiles_received ON profiles (received_ns);
CREATE TABLE IF NOT EXISTS profile_spans (profile_id TEXT NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS profile_spans_span ON profile_spans (trace_id, span_id);
CREATE INDEX IF NOT EXISTS profile_spans_profile ON profile_spans (profile_id);
"""

# A span sent twice (an export retried after a lost answer) is kept once.
_INSERT_SPAN = "INSERT OR IGNORE INTO spans VALUES (" + ",".join("?" * 20) + ")"
_UPSERT_TRACE = (
    "INSERT INTO traces VALUES (?,?,?,?,?) ON CONFLICT (trace_id) DO UPDATE SET "
    "start_ns = min(start_ns, excluded.start_ns), end_ns = max(end_ns, excluded.end_ns), "
    "spans = spans + excluded.spans, errors = errors + excluded.errors"
)


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/c13/view.sqlite3`` (``~/.local/share`` when unset; ``%LOCALAPPDATA%`` on Windows)."""
    base = os.environ.get("XDG_DATA_HOME") or os.environ.get("LOCALAPPDATA") or str(Path.home() / ".local/share")
    return Path(base) / "c13" / "view.sqlite3"


def connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


@dataclass
class StoreStats:
    spans_stored: int = 0
    profiles_stored: int = 0
    requests_shed: int = 0
    spans_shed: int = 0
    traces_evicted: int = 0
    write_errors: int = 0


class Store:
    def __init__(
        self,
        path: str | Path,
        *,
        max_spans: int = 1_000_000,
        retention_s: float = 7 * 24 * 3600.0,
        max_pending: int = 200_000,
        batch_spans: int = 20_000,
    ) -> None:
        if max_spans < 1 or retention_s <= 0 or max_pending < 1:
            raise ValueError("max_spans, retention and max_pending must be positive")
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_spans = max_spans
        self.retention_ns = int(retention_s * 1e9)
        self.max_pending = max_pending
        self.batch_spans = batch_spans
        self.stats = StoreStats()
        self._conn = connect(self.path)
        self._conn.executescript(SCHEMA)
        self._span_count: int = self._conn.execute("SELECT count(*) FROM spans").fetchone()[0]
        self._queue: collections.deque[SpanBatch | list[ProfileDoc]] = collections.deque()
        self._pending = 0
        self._cond = threading.Condition()
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self._next_retention = 0.0
        self._thread = threading.Thread(target=self._run, name="c13-view-writer", daemon=True)
        self._thread.start()

    @property
    def span_count(self) -> int:
        return self._span_count

    def submit(self, item: SpanBatch | list[ProfileDoc]) -> bool:
        """Queue one decoded request; False (counted) when the queue is full and the sender should retry later."""
        size = len(item.rows) if isinstance(item, SpanBatch) else len(item)
        with self._cond:
            if self._closed or (self._pending and self._pending + size > self.max_pending):
                self.stats.requests_shed += 1
                self.stats.spans_shed += size if isinstance(item, SpanBatch) else 0
                return False
            self._pending += size
            self._queue.append(item)
            self._idle.clear()
            self._cond.notify()
        return True

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything submitted so far is committed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._idle.wait(0.01) and not self._queue:
                return True
        return False

    def close(self) -> None:
        self.flush(10.0)
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(10)
        self._conn.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._closed:
                    self._idle.set()
                    self._cond.wait(1.0)
                if self._closed and not self._queue:
                    self._idle.set()
                    return
                items: list[SpanBatch | list[ProfileDoc]] = []
                size = 0
                while self._queue and size < self.batch_spans:
                    item = self._queue.popleft()
                    items.append(item)
                    size += len(item.rows) if isinstance(item, SpanBatch) else len(item)
                self._pending -= size
            try:  # outside the lock: receivers keep queueing while this commits
                if items:
                    self._write(items)
                    self._evict()
                self._maybe_expire()
            except sqlite3.Error:
                self.stats.write_errors += 1
                logging.getLogger("c13_middleware.view").exception("c13 view: writing to %s failed", self.path)

    def _write(self, items: list[SpanBatch | list[ProfileDoc]]) -> None:
        conn = self._conn
        spans = profiles = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            for item in items:
                if isinstance(item, SpanBatch):
                    conn.executemany("INSERT OR IGNORE INTO resources VALUES (?,?,?)",
                                     [(k, s, a) for k, (s, a) in item.resources.items()])  # fmt: skip
                    conn.executemany(_INSERT_SPAN, item.rows)
                    conn.executemany(_UPSERT_TRACE, _trace_rows(item.rows))
                    conn.executemany("INSERT OR IGNORE INTO operations VALUES (?,?,?)",
                                     {(row[3], row[4], row[5]) for row in item.rows})  # fmt: skip
                    spans += len(item.rows)
                else:
                    now = time.time_ns()
                    for doc in item:
                        blob = zlib.compress(_dumps(doc.as_json()).encode(), 6)
                        conn.execute("DELETE FROM profile_spans WHERE profile_id = ?", (doc.profile_id,))
                        conn.execute("INSERT OR REPLACE INTO profiles VALUES (?,?,?,?,?,?,?,?,?)",
                                     (doc.profile_id, doc.trace_id, doc.span_id, doc.service, doc.name, doc.start_ns,
                                      doc.duration_ns, now, blob))  # fmt: skip
                        links = {(doc.trace_id, str(sample[4])) for sample in doc.samples if sample[4]}
                        conn.executemany("INSERT INTO profile_spans VALUES (?,?,?)",
                                         [(doc.profile_id, t, s) for t, s in links])  # fmt: skip
                        profiles += 1
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._span_count += spans
        self.stats.spans_stored += spans
        self.stats.profiles_stored += profiles

    def _evict(self) -> None:
        """Delete the oldest traces while more than ``max_spans`` spans are stored."""
        conn = self._conn
        while self._span_count > self.max_spans:
            excess = self._span_count - self.max_spans
            victims, total = [], 0
            for trace_id, count in conn.execute("SELECT trace_id, spans FROM traces ORDER BY start_ns LIMIT 1000"):
                victims.append(trace_id)
                total += count
                if total >= excess:
                    break
            if not victims:
                self._span_count = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
                return
            self._delete_traces(victims)

    def _maybe_expire(self) -> None:
        now = time.monotonic()
        if now < self._next_retention:
            return
        self._next_retention = now + 5.0
        cutoff = time.time_ns() - self.retention_ns
        victims = [row[0] for row in self._conn.execute("SELECT trace_id FROM traces WHERE end_ns < ?", (cutoff,))]
        if victims:
            self._delete_traces(victims)
        self._conn.execute("DELETE FROM profile_spans WHERE profile_id IN "
                           "(SELECT profile_id FROM profiles WHERE received_ns < ?)", (cutoff,))  # fmt: skip
        self._conn.execute("DELETE FROM profiles WHERE received_ns < ?", (cutoff,))

    def _delete_traces(self, trace_ids: list[str]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            deleted = 0
            for start in range(0, len(trace_ids), 500):
                chunk = trace_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                deleted += conn.execute(f"DELETE FROM spans WHERE trace_id IN ({marks})", chunk).rowcount
                conn.execute(f"DELETE FROM traces WHERE trace_id IN ({marks})", chunk)
                conn.execute(f"DELETE FROM profile_spans WHERE trace_id IN ({marks})", chunk)
                conn.execute(f"DELETE FROM profiles WHERE trace_id IN ({marks})", chunk)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._span_count -= deleted
        self.stats.traces_evicted += len(trace_ids)


def _trace_rows(rows: list[tuple[Any, ...]]) -> list[tuple[str, int, int, int, int]]:
    """Per trace of a batch: (trace_id, first start, last end, spans, errors)."""
    traces: dict[str, list[int]] = {}
    for row in rows:
        start, duration, status = row[6], row[7], row[8]
        entry = traces.get(row[0])
        if entry is None:
            traces[row[0]] = [start, start + duration, 1, int(status == 2)]
        else:
            entry[0] = min(entry[0], start)
            entry[1] = max(entry[1], start + duration)
            entry[2] += 1
            entry[3] += status == 2
    return [(trace_id, v[0], v[1], v[2], int(v[3])) for trace_id, v in traces.items()]


__all__ = ["SCHEMA", "Store", "StoreStats", "connect", "default_db_path"]
