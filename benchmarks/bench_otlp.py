"""OTLP encoding cost per span: c13 (protobuf and JSON) against OpenTelemetry's OTLP encoder, in one run.

Realistic server spans: a remote parent, 10 attributes (two of them different in every request, one of a few
values) and one event. Several batches with fresh high-cardinality values are encoded in turn, so the caches
are measured in their steady state, not on a batch they have already seen; the cold row is a new encoder per batch.

python -m benchmarks.bench_otlp   (needs opentelemetry-proto, opentelemetry-sdk and
                                   opentelemetry-exporter-otlp-proto-common)
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._timing import machine, table
from c13_middleware import InMemoryExporter, Span, SpanContext, SpanKind, Tracer
from c13_middleware.export.otlp.encode_json import JsonEncoder
from c13_middleware.export.otlp.encode_proto import ProtobufEncoder

BATCH = 512  # the batch processor's default batch size
BATCHES = 6
ROUNDS = 7
AGENTS = ("curl/8.4.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "python-httpx/0.27.0", "okhttp/4.12.0")
PARENT = (0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331)


def request_attributes(i: int) -> dict[str, Any]:
    return {
        "http.request.method": "GET",
        "url.scheme": "https",
        "url.path": f"/api/orders/{100_000 + i}",
        "http.route": "/api/orders/{order_id}",
        "http.response.status_code": 200,
        "server.address": "shop.example.com",
        "server.port": 443,
        "client.address": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
        "user_agent.original": AGENTS[i % len(AGENTS)],
        "network.protocol.version": "1.1",
    }


def c13_batches() -> list[list[Span]]:
    batches = []
    for b in range(BATCHES):
        exporter = InMemoryExporter()
        tracer = Tracer(service_name="shop", service_version="1.4.2", exporter=exporter, export_mode="simple")
        for i in range(b * BATCH, (b + 1) * BATCH):
            parent = SpanContext(PARENT[0] + i, PARENT[1] + i, 1, is_remote=True)
            span = tracer.start_span("GET /api/orders/{order_id}", kind=SpanKind.SERVER, parent=parent,
                                     attributes=request_attributes(i))  # fmt: skip
            span.add_event("cache.miss", {"cache.key": "orders"})
            span.end()
        batches.append(exporter.get_finished_spans())
    return batches


def otel_batches() -> list[Sequence[Any]]:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    batches = []
    for b in range(BATCHES):
        exporter = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": "shop", "service.version": "1.4.2"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("c13_middleware")
        for i in range(b * BATCH, (b + 1) * BATCH):
            remote = trace.SpanContext(PARENT[0] + i, PARENT[1] + i, True, trace.TraceFlags(1))
            context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
            span = tracer.start_span("GET /api/orders/{order_id}", context=context, kind=trace.SpanKind.SERVER,
                                     attributes=request_attributes(i))  # fmt: skip
            span.add_event("cache.miss", {"cache.key": "orders"})
            span.end()
        batches.append(exporter.get_finished_spans())
        provider.shutdown()
    return batches


def per_span_us(encode: Callable[[Any], bytes], batches: Sequence[Sequence[Any]], fresh: bool = False) -> float:
    """Best (over ROUNDS) mean time per span to encode every batch once, in turn."""
    best = float("inf")
    for _ in range(ROUNDS):
        gc.collect()
        start = time.perf_counter()
        for batch in batches:
            encode(batch)
        best = min(best, time.perf_counter() - start)
    return best / (len(batches) * BATCH) * 1e6


def main() -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    ours, theirs = c13_batches(), otel_batches()
    proto, text = ProtobufEncoder(), JsonEncoder()
    proto.encode(ours[0])  # warm up: the first batch fills the caches
    text.encode(ours[0])

    def otel(batch: Sequence[Any]) -> bytes:
        data: bytes = encode_spans(batch).SerializeToString()
        return data

    def cold(batch: Sequence[Span]) -> bytes:
        return ProtobufEncoder().encode(batch)

    sizes = {"proto": len(proto.encode(ours[1])), "json": len(text.encode(ours[1])), "otel": len(otel(theirs[1]))}
    otel_us = per_span_us(otel, theirs)
    rows = [
        ("OpenTelemetry encode_spans (protobuf)", otel_us, sizes["otel"]),
        ("c13 protobuf (official messages)", per_span_us(proto.encode, ours[1:]), sizes["proto"]),
        ("c13 protobuf, new encoder per batch", per_span_us(cold, ours[1:]), sizes["proto"]),
        ("c13 JSON", per_span_us(text.encode, ours[1:]), sizes["json"]),
    ]
    print(machine())
    print(f"{BATCH} spans per batch, {BATCHES} batches, best of {ROUNDS}; 10 attributes and 1 event per span\n")
    print(
        table(
            "OTLP encoding, µs per span",
            ("encoder", "µs/span", "vs OpenTelemetry", "bytes/batch"),
            [
                (name, f"{us:.2f}", f"{otel_us / us:.1f}× faster" if name[0] == "c" else "1.0×", str(size))
                for name, us, size in rows
            ],  # fmt: skip
        )
    )


if __name__ == "__main__":
    main()
