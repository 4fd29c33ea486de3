"""The OpenTelemetry API bridge: a span started through ``opentelemetry.trace`` with c13 as the provider, next to a
native c13 span and to the OpenTelemetry SDK's own span, in the same run.

The SDK is measured first, with the API's stock runtime context; then c13's bridge is installed (for the rest of
the process). Each side exports through a batch processor into a null exporter.

python -m benchmarks.bench_otel_bridge
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks._timing import NullExporter, machine, otel_provider, per_call_us, table
from c13_middleware import BatchSpanProcessor, Tracer

N = 20_000
ATTRS = {"db.system.name": "sqlite", "db.operation.name": "SELECT", "db.collection.name": "items"}


def _figures(
    start_span: Callable[[], object], current_span: Callable[[], object], get_current: Callable[[], object]
) -> dict[str, float]:
    return {
        "span": per_call_us(start_span, N),
        "current": per_call_us(current_span, N),
        "get_current": per_call_us(get_current, N),
    }


def _attach_figure() -> float:
    """What instrumentations and ``trace.use_span`` do around their work, inside the current span."""
    from opentelemetry import context, trace

    span = trace.get_current_span()

    def attach_detach() -> None:
        context.detach(context.attach(trace.set_span_in_context(span)))

    return per_call_us(attach_detach, N)


def sdk_figures() -> dict[str, float] | None:
    try:
        provider, _ = otel_provider(max_queue_size=N * 10)
        from opentelemetry import trace
    except ImportError:
        return None
    tracer = provider.get_tracer("bench")

    def span() -> None:
        tracer.start_span("SELECT items", attributes=ATTRS).end()

    def current() -> None:
        with tracer.start_as_current_span("SELECT items", attributes=ATTRS):
            pass

    with tracer.start_as_current_span("request"):
        figures = _figures(span, current, trace.get_current_span)
        figures["attach"] = _attach_figure()
    provider.shutdown()
    return figures


def c13_figures() -> dict[str, float]:
    processor = BatchSpanProcessor(NullExporter(), max_queue_size=N * 10, max_export_batch_size=512)
    tracer = Tracer(processors=[processor])

    def span() -> None:
        tracer.start_span("SELECT items", attributes=ATTRS).end()

    def current() -> None:
        with tracer.start_as_current_span("SELECT items", attributes=ATTRS):
            pass

    with tracer.start_as_current_span("request"):
        figures = _figures(span, current, tracer.current_span)
    processor.shutdown()
    return figures


def bridge_figures() -> dict[str, float] | None:
    try:
        from opentelemetry import trace

        from c13_middleware import configure
        from c13_middleware.integrations.opentelemetry import install
    except ImportError:
        return None
    processor = BatchSpanProcessor(NullExporter(), max_queue_size=N * 10, max_export_batch_size=512)
    native = configure(processors=[processor], opentelemetry=False)
    install()
    tracer = trace.get_tracer("bench")

    def span() -> None:
        tracer.start_span("SELECT items", attributes=ATTRS).end()

    def current() -> None:
        with tracer.start_as_current_span("SELECT items", attributes=ATTRS):
            pass

    with native.start_as_current_span("request"):  # a c13 SERVER-like span current, as in a traced request
        figures = _figures(span, current, trace.get_current_span)
        figures["attach"] = _attach_figure()
    processor.shutdown()
    return figures


def main() -> None:
    theirs = sdk_figures()  # first: before c13's runtime context replaces the API's
    native = c13_figures()
    bridge = bridge_figures()
    labels = {
        "span": "start_span + end, 3 attributes",
        "current": "start_as_current_span block, 3 attributes",
        "get_current": "current span lookup inside a span",
        "attach": "context attach(set_span_in_context) + detach",
    }
    rows = []
    for key, label in labels.items():
        ours = bridge[key] if bridge else None
        sdk = theirs[key] if theirs else None
        mine = native.get(key)
        rows.append(
            (
                label,
                f"{mine:.2f}" if mine else "n/a",
                f"{ours:.2f}" if ours else "n/a",
                f"{sdk:.2f}" if sdk else "n/a",
                f"{ours / mine:.2f}×" if ours and mine else "n/a",
                f"{ours / sdk:.2f}×" if ours and sdk else "n/a",
            )
        )
    header = ("operation", "c13 native µs", "OTel API via c13 µs", "OTel SDK µs", "bridge/native", "bridge/SDK")
    print(table(f"OpenTelemetry API bridge ({machine()})", header, rows))
    print("\ntargets: bridge/native ≤ 2× and bridge/SDK < 1× for span start+end")


if __name__ == "__main__":
    main()
