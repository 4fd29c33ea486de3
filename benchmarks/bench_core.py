"""Core request-path costs, c13 next to the OpenTelemetry SDK in the same run.

python -m benchmarks.bench_core
"""

from __future__ import annotations

from benchmarks._timing import NullExporter, machine, otel_provider, per_call_us, ratio, table
from c13_middleware import BatchSpanProcessor, Tracer
from c13_middleware.propagation._fields import extract_fields
from c13_middleware.propagation._propagators import DEFAULT_PROPAGATOR, Propagated, mapping_getter

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACESTATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
N = 20_000


def c13_figures() -> dict[str, float]:
    processor = BatchSpanProcessor(NullExporter(), max_queue_size=N * 10, max_export_batch_size=512)
    tracer = Tracer(processors=[processor])
    attrs = {"http.request.method": "GET", "url.path": "/items/1", "http.response.status_code": 200}

    def span() -> None:
        tracer.start_span("GET /items/{id}", attributes=attrs).end()

    headers = {"traceparent": TRACEPARENT, "tracestate": TRACESTATE}

    def extract() -> None:
        DEFAULT_PROPAGATOR.extract(mapping_getter(headers), Propagated())

    fields = {"traceparent": [TRACEPARENT], "tracestate": [TRACESTATE]}

    def extract_server() -> None:
        extract_fields(fields)  # what the server middleware runs on the header values it collected

    ended = tracer.start_span("x")
    ended.end()

    def on_end() -> None:
        processor.on_end(ended)
        if len(processor._queue) > 10_000:
            processor._queue.clear()

    figures = {
        "span": per_call_us(span, N),
        "extract": per_call_us(extract, N),
        "extract_server": per_call_us(extract_server, N),
        "on_end": per_call_us(on_end, N),
    }
    processor.shutdown()
    return figures


def otel_figures() -> dict[str, float] | None:
    try:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        provider, batch = otel_provider(max_queue_size=N * 10)
    except ImportError:
        return None
    tracer = provider.get_tracer("bench")
    attrs = {"http.request.method": "GET", "url.path": "/items/1", "http.response.status_code": 200}

    def span() -> None:
        tracer.start_span("GET /items/{id}", attributes=attrs).end()

    propagator = TraceContextTextMapPropagator()
    headers = {"traceparent": TRACEPARENT, "tracestate": TRACESTATE}

    def extract() -> None:
        propagator.extract(headers)

    ended = tracer.start_span("x")
    ended.end()

    def on_end() -> None:
        batch.on_end(ended)  # type: ignore[arg-type]

    figures = {"span": per_call_us(span, N), "extract": per_call_us(extract, N), "on_end": per_call_us(on_end, N)}
    figures["extract_server"] = figures["extract"]
    provider.shutdown()
    return figures


def main() -> None:
    ours = c13_figures()
    theirs = otel_figures()
    labels = {
        "span": "span start+end, 3 attributes, batch processor",
        "extract": "traceparent+tracestate extract (propagator API, dict carrier)",
        "extract_server": "traceparent+tracestate extract (server middleware path)",
        "on_end": "batch processor on_end (request thread)",
    }
    targets = {"span": "≤ 2 µs", "extract": "≤ 1.5 µs", "extract_server": "≤ 1.5 µs", "on_end": "≤ 0.5 µs"}
    rows = []
    for key, label in labels.items():
        other = theirs[key] if theirs else None
        rows.append(
            (label, f"{ours[key]:.2f}", f"{other:.2f}" if other else "n/a", ratio(ours[key], other), targets[key])
        )
    print(table(f"Core ({machine()})", ("operation", "c13 µs", "OTel SDK µs", "c13/OTel", "target"), rows))


if __name__ == "__main__":
    main()
