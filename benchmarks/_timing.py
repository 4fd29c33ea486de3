"""Shared benchmark helpers: best-of-N loops (background noise inflates only the discarded runs), null exporters."""

from __future__ import annotations

import gc
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

from c13_middleware import ExportResult, Span, SpanExporter


def per_call_us(func: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Best per-call time in microseconds over ``repeat`` runs of ``number`` calls."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, time.perf_counter() - start)
    return best / number * 1e6


def machine() -> str:
    import os

    return (
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs"
    )


def table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [f"## {title}", "", "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    return "\n".join(lines)


def ratio(ours: float, theirs: float | None) -> str:
    return "n/a" if not theirs else f"{ours / theirs:.3f}× ({theirs / ours:.1f}× faster)"


class NullExporter(SpanExporter):
    """Accepts every batch and does nothing: the benchmarks measure the request path, not an exporter."""

    def export(self, spans: Sequence[Span]) -> ExportResult:
        return ExportResult.SUCCESS


def otel_provider(max_queue_size: int = 4096) -> tuple[Any, Any]:
    """An OpenTelemetry SDK TracerProvider with a BatchSpanProcessor over a no-op exporter: (provider, processor)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor as OtelBatch,
        SpanExporter as OtelExporter,
        SpanExportResult,
    )

    class OtelNull(OtelExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    processor = OtelBatch(OtelNull(), max_queue_size=max_queue_size)
    provider.add_span_processor(processor)
    return provider, processor
