"""How each example service sets up c13: one ``configure`` call at start-up.

Spans go to ``$C13_DEMO_SPANS`` (a JSON-lines file) when set, else to the console.
"""

from __future__ import annotations

import os

from c13_middleware import ConsoleExporter, JSONLinesExporter, SpanExporter, Tracer, configure


def exporter_for(service: str) -> SpanExporter:
    path = os.environ.get("C13_DEMO_SPANS")
    if path:
        return JSONLinesExporter(path)
    return ConsoleExporter()


def setup(service: str) -> Tracer:
    return configure(service_name=service, exporter=exporter_for(service))
