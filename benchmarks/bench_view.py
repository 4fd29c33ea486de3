"""``c13 view``'s store: ingest rate, fetching a 10,000-span trace, search and the RED table over 1,000,000 spans.

Run alone with ``python -m benchmarks.bench_view`` (about a minute; the SQLite file goes to a temporary folder).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from c13_middleware.view._decode import SpanBatch, decode_traces
from c13_middleware.view._jaeger import jaeger_trace
from c13_middleware.view._queries import Queries, TraceQuery
from c13_middleware.view._store import Store

SERVICES = [f"service-{i}" for i in range(10)]
ROUTES = [f"/api/v1/resource-{i}/{{id}}" for i in range(20)]
SPANS_PER_TRACE = 10
MS = 1_000_000


def _request(traces: int, now: int, rng: random.Random) -> bytes:
    """An ExportTraceServiceRequest as the OpenTelemetry SDK would send it: one resource, traces of 10 spans."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = rng.choice(SERVICES)
    resource_spans.resource.attributes.add(key="telemetry.sdk.name").value.string_value = "opentelemetry"
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "bench"
    for _ in range(traces):
        trace_id, root = os.urandom(16), os.urandom(8)
        route = rng.choice(ROUTES)
        for index in range(SPANS_PER_TRACE):
            span = scope.spans.add(trace_id=trace_id, span_id=root if index == 0 else os.urandom(8))
            span.name = f"GET {route}" if index == 0 else f"SELECT table_{index}"
            span.kind = 2 if index == 0 else 3
            if index:
                span.parent_span_id = root
            span.start_time_unix_nano = now + index * MS
            span.end_time_unix_nano = span.start_time_unix_nano + rng.randint(1, 200) * MS
            for key, value in (("http.route", route), ("http.request.method", "GET"), ("server.address", "api"),
                               ("db.system", "postgresql")):  # fmt: skip
                span.attributes.add(key=key).value.string_value = value
            span.attributes.add(key="http.response.status_code").value.int_value = 200
    return bytes(request.SerializeToString())


def _rows(count: int, now: int, rng: random.Random) -> SpanBatch:
    """Store rows without the protobuf round trip, to fill the store quickly."""
    batch = SpanBatch(resources={"r": ("service-0", '{"service.name":"service-0"}')})
    for start in range(0, count, SPANS_PER_TRACE):
        trace_id, root = os.urandom(16).hex(), os.urandom(8).hex()
        service, route = rng.choice(SERVICES), rng.choice(ROUTES)
        t0 = now - rng.randint(0, 3600 * 10**9)
        for index in range(SPANS_PER_TRACE):
            status = 2 if index == 0 and rng.random() < 0.02 else 0
            attrs = f'{{"http.route":"{route}","http.response.status_code":{500 if status else 200},"i":{start}}}'
            batch.rows.append((
                trace_id, root if index == 0 else os.urandom(8).hex(), "" if index == 0 else root, service,
                f"GET {route}" if index == 0 else f"SELECT table_{index}", 2 if index == 0 else 3, t0 + index * MS,
                rng.randint(1, 500) * MS, status, "", route if index == 0 else f"SELECT table_{index}",
                1 if index == 0 else 0, attrs, "", "", "r", "bench", "", 1, "",
            ))  # fmt: skip
    return batch


def _best(fn: Callable[[], Any], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def bench_ingest(folder: Path) -> None:
    rng = random.Random(1)
    now = time.time_ns()
    bodies = [_request(100, now, rng) for _ in range(100)]  # 100 requests of 1,000 spans
    spans = 100 * 100 * SPANS_PER_TRACE
    started = time.perf_counter()
    batches = [decode_traces(body, False) for body in bodies]
    decoded = time.perf_counter() - started
    store = Store(folder / "ingest.db", max_pending=spans + 1)
    started = time.perf_counter()
    for batch in batches:
        assert store.submit(batch)
    assert store.flush(120)
    stored = time.perf_counter() - started
    store.close()
    # As the receiver runs: requests decoded on one thread while the writer thread commits the previous ones.
    store = Store(folder / "pipelined.db", max_pending=spans + 1)
    started = time.perf_counter()
    for body in bodies:
        assert store.submit(decode_traces(body, False))
    assert store.flush(120)
    pipelined = time.perf_counter() - started
    store.close()
    print(f"ingest, {spans:,} spans in 100 OTLP protobuf requests:")
    print(f"  decode only              {spans / decoded:>10,.0f} spans/s")
    print(f"  store only               {spans / stored:>10,.0f} spans/s (SQLite, WAL, 6 indexes)")
    print(f"  decode + store, pipelined {spans / pipelined:>9,.0f} spans/s (receiver thread + writer thread)")


def bench_big_trace(folder: Path) -> None:
    store = Store(folder / "big.db")
    rng = random.Random(2)
    batch = _rows(10_000, time.time_ns(), rng)
    trace_id = batch.rows[0][0]
    batch.rows = [(trace_id, *row[1:]) for row in batch.rows]
    assert store.submit(batch) and store.flush(60)
    store.close()
    queries = Queries(folder / "big.db")
    spans = _best(lambda: queries.trace_spans(trace_id), 5)
    jaeger = _best(lambda: jaeger_trace(queries, trace_id), 5)
    print("a 10,000-span trace:")
    print(f"  its spans from SQLite        {spans * 1000:8.1f} ms")
    print(f"  /api/traces/{{id}} (Jaeger)   {jaeger * 1000:8.1f} ms (without the HTTP answer)")
    queries.close()


def bench_million(folder: Path) -> None:
    total = 1_000_000
    store = Store(folder / "million.db", max_spans=total, max_pending=total + 1)
    rng = random.Random(3)
    now = time.time_ns()
    started = time.perf_counter()
    for _ in range(total // 50_000):
        assert store.submit(_rows(50_000, now, rng))
    assert store.flush(600)
    filled = time.perf_counter() - started
    store.close()
    queries = Queries(folder / "million.db")
    print(f"1,000,000 stored spans (filled in {filled:.1f} s, {total / filled:,.0f} spans/s without decoding):")
    searches = {
        "service, newest 20 traces": TraceQuery(service="service-3"),
        "service + operation + minDuration 400ms": TraceQuery(
            service="service-3", operation=f"GET {ROUTES[4]}", min_duration_ns=400 * MS
        ),  # fmt: skip
        "service + tag http.response.status_code=500": TraceQuery(
            service="service-3", tags={"http.response.status_code": "500"}
        ),
        "service + last 10 minutes + error": TraceQuery(
            service="service-3", start_ns=now - 600 * 10**9, errors_only=True
        ),  # fmt: skip
        "tag only, a rare value (scans)": TraceQuery(tags={"i": "999990"}),
    }
    for label, query in searches.items():
        seconds = _best(lambda query=query: queries.find_trace_ids(query), 3)  # type: ignore[misc]
        print(f"  search: {label:<45} {seconds * 1000:8.1f} ms")
    red_all = _best(lambda: queries.red(), 3)
    red_one = _best(lambda: queries.red("service-3"), 3)
    slowest = _best(lambda: queries.slowest(limit=20), 3)
    print(f"  RED table, every service and route (200 rows)  {red_all * 1000:8.1f} ms")
    print(f"  RED table, one service                          {red_one * 1000:8.1f} ms")
    print(f"  slowest 20 requests                             {slowest * 1000:8.1f} ms")
    queries.close()


def main() -> None:
    print("c13 view store (benchmarks/bench_view.py)")
    with tempfile.TemporaryDirectory(prefix="c13-bench-view-") as folder:
        bench_ingest(Path(folder))
        bench_big_trace(Path(folder))
        bench_million(Path(folder))


if __name__ == "__main__":
    main()
