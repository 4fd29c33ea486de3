"""The store: whole requests, search, RED figures, the bounds and shedding."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from c13_middleware.view._decode import decode_traces
from c13_middleware.view._queries import Queries, TraceQuery
from c13_middleware.view._store import Store
from tests.view.otlp_requests import span_request

MS = 1_000_000


def _submit(store: Store, service: str, spans: list[dict[str, object]], trace_id: bytes | None = None) -> str:
    request = span_request(service, spans, trace_id=trace_id)  # type: ignore[arg-type]
    assert store.submit(decode_traces(request.SerializeToString(), False))
    return request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "s.db")
    yield opened
    opened.close()


Reader = Callable[[Path], Queries]


@pytest.fixture
def reader() -> Iterator[Reader]:
    """``Queries`` on a store's file, closed after the test."""
    opened: list[Queries] = []

    def open_queries(path: Path) -> Queries:
        opened.append(Queries(path))
        return opened[-1]

    yield open_queries
    for queries in opened:
        queries.close()


def test_search_matches_service_operation_duration_tags_and_time(store: Store, reader: Reader) -> None:
    now = time.time_ns()
    slow = _submit(store, "shop", [{"name": "GET /a", "duration": 300 * MS, "start": now - 5 * 10**9,
                                    "attributes": {"http.route": "/a", "http.response.status_code": 500,
                                                   "cached": False}, "status": 2}])  # fmt: skip
    fast = _submit(store, "shop", [{"name": "GET /a", "duration": 2 * MS, "start": now - 10**9,
                                    "attributes": {"http.route": "/a", "http.response.status_code": 200}}])  # fmt: skip
    other = _submit(store, "auth", [{"name": "login", "start": now}])
    assert store.flush()
    q = reader(store.path)
    find = q.find_trace_ids
    assert find(TraceQuery(service="shop")) == [fast, slow]  # newest first
    assert find(TraceQuery(operation="login")) == [other]
    assert find(TraceQuery(service="shop", min_duration_ns=100 * MS)) == [slow]
    assert find(TraceQuery(service="shop", max_duration_ns=100 * MS)) == [fast]
    assert find(TraceQuery(tags={"http.response.status_code": "500"})) == [slow]
    assert find(TraceQuery(tags={"cached": "false"})) == [slow]
    assert find(TraceQuery(tags={"error": "true"})) == [slow]
    assert find(TraceQuery(route="/a", errors_only=True)) == [slow]
    assert find(TraceQuery(start_ns=now - 2 * 10**9)) == [other, fast]
    assert find(TraceQuery(end_ns=now - 2 * 10**9)) == [slow]
    assert find(TraceQuery(tags={'we"ird': "x"})) == []
    assert find(TraceQuery(limit=1)) == [other]


def test_red_figures_per_service_and_route(store: Store, reader: Reader) -> None:
    spans = [{"name": "GET /r", "attributes": {"http.route": "/r"}, "duration": (i + 1) * MS,
              "status": 2 if i < 10 else 0} for i in range(100)]  # fmt: skip
    for spec in spans:
        _submit(store, "api", [spec])
    _submit(store, "api", [{"name": "child", "kind": 1, "parent": os.urandom(8)}])  # not an entry span
    assert store.flush()
    (row,) = reader(store.path).red()
    assert (row["service"], row["route"], row["requests"], row["errors"]) == ("api", "/r", 100, 10)
    assert row["errorRate"] == pytest.approx(0.1)
    assert (row["p50Ns"], row["p95Ns"], row["p99Ns"]) == (50 * MS, 95 * MS, 99 * MS)
    slowest = reader(store.path).slowest(limit=3)
    assert [span["durationNs"] for span in slowest] == [100 * MS, 99 * MS, 98 * MS]


def test_the_oldest_traces_are_evicted_beyond_max_spans(tmp_path: Path, reader: Reader) -> None:
    store = Store(tmp_path / "e.db", max_spans=10)
    try:
        now = time.time_ns()
        ids = [_submit(store, "s", [{"start": now + i * MS}, {"start": now + i * MS + 1}]) for i in range(8)]
        assert store.flush()
        q = reader(store.path)
        assert store.span_count <= 10
        kept = set(q.find_trace_ids(TraceQuery(limit=100)))
        assert kept == set(ids[-5:])  # two spans per trace: the five newest traces fit
        assert store.stats.traces_evicted == 3
        assert q.trace_spans(ids[0]) == []
    finally:
        store.close()


def test_traces_older_than_the_retention_are_deleted(tmp_path: Path, reader: Reader) -> None:
    store = Store(tmp_path / "r.db", retention_s=60)
    try:
        old = _submit(store, "s", [{"start": time.time_ns() - 3600 * 10**9}])
        new = _submit(store, "s", [{}])
        assert store.flush()
        store._next_retention = 0.0  # the writer checks the retention within a second when idle
        deadline = time.monotonic() + 5
        while reader(store.path).counts()["traces"] > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reader(store.path).find_trace_ids(TraceQuery()) == [new]
        assert old not in reader(store.path).find_trace_ids(TraceQuery())
    finally:
        store.close()


def test_a_full_queue_sheds_and_counts_without_blocking(tmp_path: Path, reader: Reader) -> None:
    store = Store(tmp_path / "q.db", max_pending=3)
    gate = threading.Event()
    write = store._write

    def held(items: list[object]) -> None:
        gate.wait(10)
        write(items)  # type: ignore[arg-type]

    store._write = held  # type: ignore[method-assign]
    try:
        batches = [decode_traces(span_request("s", [{}, {}]).SerializeToString(), False) for _ in range(3)]
        assert store.submit(batches[0])  # taken by the writer, which waits at the gate
        time.sleep(0.1)
        assert store.submit(batches[1])
        started = time.perf_counter()
        assert not store.submit(batches[2])  # 2 + 2 > 3 pending: shed
        assert time.perf_counter() - started < 0.05
        assert (store.stats.requests_shed, store.stats.spans_shed) == (1, 2)
    finally:
        gate.set()
        store.close()
    assert reader(store.path).counts()["spans"] == 4
