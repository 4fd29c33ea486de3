"""OTLP JSON to a file: one ``ExportTraceServiceRequest`` per line, the format of the OpenTelemetry Collector's
``file`` exporter, which its ``otlpjsonfile`` receiver reads back (so a file can be replayed into any backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ...trace._exporters import ExportResult, LineFile, SpanExporter
from .encode_json import JsonEncoder

if TYPE_CHECKING:
    from ...trace._span import Span


class OTLPFileExporter(SpanExporter):
    def __init__(self, path: str | Path | IO[bytes]) -> None:
        self._encoder = JsonEncoder()
        self._file = LineFile(path, "ab")

    def export(self, spans: Sequence[Span]) -> ExportResult:
        if not spans:
            return ExportResult.SUCCESS
        ok = self._file.write(self._encoder.encode(spans) + b"\n")
        return ExportResult.SUCCESS if ok else ExportResult.FAILURE

    def shutdown(self) -> None:
        self._file.close()
