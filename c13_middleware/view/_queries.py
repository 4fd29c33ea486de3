"""Reading the store: the query API the HTTP endpoints (and the UI) are built on.

Every method returns plain JSON-ready values (ids as lower-case hex, times in Unix nanoseconds). Each thread reads
through its own connection; in WAL mode a read never waits for the writer and sees only committed requests.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._store import connect

SPAN_COLUMNS = (
    "trace_id, span_id, parent_id, service, name, kind, start_ns, duration_ns, status, status_message, route, entry, "
    "attributes, events, links, resource, scope, scope_version, flags, trace_state"
)
MAX_SEARCH_LIMIT = 1500


@dataclass(frozen=True)
class TraceQuery:
    """A trace search: traces with at least one span matching every given criterion, newest first."""

    service: str | None = None
    operation: str | None = None  # span name
    route: str | None = None  # http.route of an entry span (else its name)
    tags: Mapping[str, str] = field(default_factory=dict)  # span attribute key=value; "error": "true" = status ERROR
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    start_ns: int | None = None  # span start, inclusive
    end_ns: int | None = None
    errors_only: bool = False
    limit: int = 20


def _span(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    (trace_id, span_id, parent_id, service, name, kind, start, duration, status, message, route, entry, attrs,
     events, links, resource, scope, version, flags, trace_state) = row  # fmt: skip
    return {
        "traceId": trace_id, "spanId": span_id, "parentSpanId": parent_id, "service": service, "name": name,
        "kind": kind, "startNs": start, "durationNs": duration, "status": {"code": status, "message": message},
        "route": route, "entry": bool(entry), "attributes": json.loads(attrs),
        "events": json.loads(events) if events else [], "links": json.loads(links) if links else [],
        "resource": resource, "scope": {"name": scope, "version": version}, "flags": flags, "traceState": trace_state,
    }  # fmt: skip


def _percentile_offset(count: int, p: float) -> int:
    return max(0, math.ceil(p * count) - 1)


class Queries:
    """Read connections are pooled: a thread takes one on its first query and gives it back with ``release()`` (the
    API does after each request); ``close()`` closes them all."""

    def __init__(self, path: str | Path, *, pool_size: int = 8) -> None:
        self.path = Path(path)
        self.pool_size = pool_size
        self._local = threading.local()
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = connect(self.path)
                with self._lock:
                    self._all.append(conn)
            self._local.conn = conn
        return conn

    def release(self) -> None:
        """Give this thread's connection back to the pool (closed if the pool is full)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            if len(self._idle) < self.pool_size:
                self._idle.append(conn)
                return
            self._all.remove(conn)
        conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._all, self._idle = self._all, [], []
        for conn in conns:
            conn.close()

    def services(self) -> list[str]:
        return [row[0] for row in self._conn().execute("SELECT DISTINCT service FROM operations ORDER BY service")]

    def operations(self, service: str) -> list[dict[str, Any]]:
        """``[{"name", "kind"}]``: the span names (and kinds) seen for ``service``."""
        rows = self._conn().execute("SELECT name, kind FROM operations WHERE service = ? ORDER BY name", (service,))
        return [{"name": name, "kind": kind} for name, kind in rows]

    def find_trace_ids(self, query: TraceQuery) -> list[str]:
        where: list[str] = ["1 = 1"]
        params: list[object] = []
        for column, value in (("service", query.service), ("name", query.operation)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if query.route:
            where.append("entry = 1 AND route = ?")
            params.append(query.route)
        for clause, bound in (("start_ns >= ?", query.start_ns), ("start_ns <= ?", query.end_ns),
                              ("duration_ns >= ?", query.min_duration_ns),
                              ("duration_ns <= ?", query.max_duration_ns)):  # fmt: skip
            if bound is not None:
                where.append(clause)
                params.append(bound)
        errors_only = query.errors_only
        for key, value in query.tags.items():
            if key == "error" and value.lower() in ("true", "1"):
                errors_only = True
                continue
            if '"' in key or "\\" in key:
                return []  # not a key SQLite's JSON path can name: no span has it
            alternatives = {value, "1"} if value == "true" else {value, "0"} if value == "false" else {value}
            marks = ",".join("?" * len(alternatives))
            where.append(f"CAST(json_extract(attributes, ?) AS TEXT) IN ({marks})")
            params.extend([f'$."{key}"', *sorted(alternatives)])
        if errors_only:
            where.append("status = 2")
        limit = max(1, min(query.limit, MAX_SEARCH_LIMIT))
        sql = f"SELECT trace_id FROM spans WHERE {' AND '.join(where)} ORDER BY start_ns DESC"
        found: dict[str, None] = {}
        for (trace_id,) in self._conn().execute(sql, params):
            found[trace_id] = None
            if len(found) >= limit:
                break
        return list(found)

    def trace_spans(self, trace_id: str) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            f"SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id = ? ORDER BY start_ns", (trace_id.lower(),)
        )
        return [_span(row) for row in rows]

    def resources(self, keys: set[str]) -> dict[str, dict[str, Any]]:
        """``key -> {"service", "attributes"}`` for the resource keys spans name."""
        out: dict[str, dict[str, Any]] = {}
        conn = self._conn()
        for key in keys:
            row = conn.execute("SELECT service, attributes FROM resources WHERE key = ?", (key,)).fetchone()
            if row is not None:
                out[key] = {"service": row[0], "attributes": json.loads(row[1])}
        return out

    def trace_summaries(self, trace_ids: list[str]) -> list[dict[str, Any]]:
        """Per trace: start, end, span and error counts, and its root span (service, name, route)."""
        out = []
        conn = self._conn()
        for trace_id in trace_ids:
            row = conn.execute("SELECT start_ns, end_ns, spans, errors FROM traces WHERE trace_id = ?", (trace_id,))
            summary = row.fetchone()
            if summary is None:
                continue
            root = conn.execute(
                "SELECT service, name, route, span_id FROM spans WHERE trace_id = ? ORDER BY parent_id != '', start_ns "
                "LIMIT 1", (trace_id,)).fetchone()  # fmt: skip
            out.append({
                "traceId": trace_id, "startNs": summary[0], "durationNs": summary[1] - summary[0],
                "spans": summary[2], "errors": summary[3], "rootService": root[0] if root else "",
                "rootName": root[1] if root else "", "rootRoute": root[2] if root else "",
                "rootSpanId": root[3] if root else "",
            })  # fmt: skip
        return out

    def profile(self, profile_id: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT document FROM profiles WHERE profile_id = ?", (profile_id,)).fetchone()
        return None if row is None else dict(json.loads(zlib.decompress(row[0])))

    def profiles_of_trace(self, trace_id: str) -> list[dict[str, Any]]:
        """The profiles with samples in ``trace_id``, and for each the span ids its samples belong to."""
        conn = self._conn()
        rows = conn.execute(
            "SELECT p.profile_id, p.span_id, p.service, p.name, p.start_ns, p.duration_ns FROM profiles p "
            "WHERE p.profile_id IN (SELECT profile_id FROM profile_spans WHERE trace_id = ?) OR p.trace_id = ? "
            "ORDER BY p.start_ns", (trace_id, trace_id)).fetchall()  # fmt: skip
        out = []
        for pid, span_id, service, name, start, duration in rows:
            spans = [r[0] for r in conn.execute("SELECT span_id FROM profile_spans WHERE profile_id = ?", (pid,))]
            out.append({"profileId": pid, "spanId": span_id, "service": service, "name": name, "startNs": start,
                        "durationNs": duration, "sampledSpanIds": sorted(spans)})  # fmt: skip
        return out

    def profiles_of_span(self, trace_id: str, span_id: str) -> list[str]:
        rows = self._conn().execute(
            "SELECT profile_id FROM profiles WHERE trace_id = ? AND span_id = ? UNION "
            "SELECT profile_id FROM profile_spans WHERE trace_id = ? AND span_id = ?",
            (trace_id, span_id, trace_id, span_id))  # fmt: skip
        return sorted(row[0] for row in rows)

    def profile_ids(
        self,
        service: str | None = None,
        route: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Profiles newest first, optionally of one service, of requests to one route (the profiled span's route),
        started within a window: ``[{"profileId", "traceId", "spanId", "service", "name", "route", "startNs",
        "durationNs"}]``. The compare page asks this for each side."""
        where: list[str] = ["1 = 1"]
        params: list[object] = []
        for clause, value in (("p.service = ?", service), ("s.route = ?", route), ("p.start_ns >= ?", start_ns),
                              ("p.start_ns <= ?", end_ns)):  # fmt: skip
            if value is not None:
                where.append(clause)
                params.append(value)
        rows = self._conn().execute(
            "SELECT p.profile_id, p.trace_id, p.span_id, p.service, p.name, coalesce(s.route, ''), p.start_ns, "
            "p.duration_ns FROM profiles p LEFT JOIN spans s ON s.trace_id = p.trace_id AND s.span_id = p.span_id "
            f"WHERE {' AND '.join(where)} ORDER BY p.start_ns DESC LIMIT ?",
            [*params, max(1, min(limit, MAX_SEARCH_LIMIT))])  # fmt: skip
        keys = ("profileId", "traceId", "spanId", "service", "name", "route", "startNs", "durationNs")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def red(
        self, service: str | None = None, start_ns: int | None = None, end_ns: int | None = None
    ) -> list[dict[str, Any]]:
        """Per service and route, over entry spans (SERVER, CONSUMER or roots): requests per second, error %, and
        p50/p95/p99 duration in nanoseconds (nearest rank)."""
        clause, params = _entry_filter(service, start_ns, end_ns)
        conn = self._conn()
        groups = conn.execute(
            f"SELECT service, route, count(*), sum(status = 2), min(start_ns), max(start_ns) FROM spans "
            f"INDEXED BY spans_entry_route WHERE {clause} GROUP BY service, route", params).fetchall()  # fmt: skip
        out = []
        for svc, route, count, errors, first, last in groups:
            window_ns = (end_ns - start_ns) if start_ns is not None and end_ns is not None else max(last - first, 0)
            quantiles = {}
            for label, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
                row = conn.execute(
                    f"SELECT duration_ns FROM spans INDEXED BY spans_entry_route WHERE {clause} AND service = ? "
                    f"AND route = ? ORDER BY duration_ns LIMIT 1 OFFSET ?",
                    [*params, svc, route, _percentile_offset(count, p)]).fetchone()  # fmt: skip
                quantiles[label] = row[0] if row else None
            out.append({
                "service": svc, "route": route, "requests": count, "errors": errors,
                "errorRate": errors / count if count else 0.0,
                "rate": count / max(window_ns / 1e9, 1.0), "windowNs": window_ns,
                **{f"{k}Ns": v for k, v in quantiles.items()},
            })  # fmt: skip
        out.sort(key=lambda item: (-item["requests"], item["service"], item["route"]))
        return out

    def slowest(self, service: str | None = None, limit: int = 20, start_ns: int | None = None) -> list[dict[str, Any]]:
        """The slowest entry spans, slowest first."""
        clause, params = _entry_filter(service, start_ns, None)
        rows = self._conn().execute(
            f"SELECT {SPAN_COLUMNS} FROM spans INDEXED BY spans_entry_duration WHERE {clause} "
            "ORDER BY duration_ns DESC LIMIT ?", [*params, max(1, min(limit, MAX_SEARCH_LIMIT))])  # fmt: skip
        return [_span(row) for row in rows]

    def dependencies(self, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        """Calls between services: a span whose parent is in another service, started within the window."""
        rows = self._conn().execute(
            "SELECT p.service, c.service, count(*) FROM spans c JOIN spans p INDEXED BY spans_trace "
            "ON p.trace_id = c.trace_id AND p.span_id = c.parent_id "
            "WHERE c.parent_id != '' AND c.start_ns BETWEEN ? AND ? AND p.service != c.service "
            "GROUP BY p.service, c.service ORDER BY p.service, c.service", (start_ns, end_ns))  # fmt: skip
        return [{"parent": parent, "child": child, "callCount": count} for parent, child, count in rows]

    def counts(self) -> dict[str, int]:
        conn = self._conn()
        return {
            "spans": conn.execute("SELECT count(*) FROM spans").fetchone()[0],
            "traces": conn.execute("SELECT count(*) FROM traces").fetchone()[0],
            "profiles": conn.execute("SELECT count(*) FROM profiles").fetchone()[0],
        }


def _entry_filter(service: str | None, start_ns: int | None, end_ns: int | None) -> tuple[str, list[object]]:
    """The WHERE clause and parameters selecting entry spans of ``service`` started within the window."""
    where = ["entry = 1"]
    params: list[object] = []
    for condition, value in (("service = ?", service or None), ("start_ns >= ?", start_ns), ("start_ns <= ?", end_ns)):
        if value is not None:
            where.append(condition)
            params.append(value)
    return " AND ".join(where), params


__all__ = ["MAX_SEARCH_LIMIT", "Queries", "TraceQuery"]
