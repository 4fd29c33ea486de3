"""How each example service sets up c13: one ``configure`` call at start-up.

- ``$C13_DEMO_SPANS`` set: spans are written there as OTLP JSON (one export request per line, the OpenTelemetry
  Collector's file format).
- ``$OTEL_EXPORTER_OTLP_ENDPOINT`` set: spans are also sent there over OTLP/HTTP (a Collector, Jaeger, Tempo).
- Neither: spans are printed to the console.
"""

from __future__ import annotations

import os

from c13_middleware import (
    BatchSpanProcessor,
    ConsoleExporter,
    OTLPExporter,
    OTLPFileExporter,
    SpanProcessor,
    Tracer,
    configure,
)


def processors() -> list[SpanProcessor]:
    chosen: list[SpanProcessor] = []
    path = os.environ.get("C13_DEMO_SPANS")
    if path:
        chosen.append(BatchSpanProcessor(OTLPFileExporter(path), schedule_delay_millis=500))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        chosen.append(BatchSpanProcessor(OTLPExporter(), schedule_delay_millis=500))
    if not chosen:
        chosen.append(BatchSpanProcessor(ConsoleExporter(), schedule_delay_millis=500))
    return chosen


def setup(service: str) -> Tracer:
    return configure(service_name=service, service_version="1.0.0", processors=processors())
