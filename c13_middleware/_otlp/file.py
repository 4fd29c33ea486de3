"""OTLP JSON to a file: one ``ExportTraceServiceRequest`` per line, the format of the OpenTelemetry Collector's
``file`` exporter, which its ``otlpjsonfile`` receiver reads back (so a file can be replayed into any backend)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .._exporters import ExportResult, SpanExporter
from .encode_json import JsonEncoder

if TYPE_CHECKING:
    from .._span import Span


class OTLPFileExporter(SpanExporter):
    def __init__(self, path: str | Path | IO[bytes]) -> None:
        self._encoder = JsonEncoder()
        self._lock = threading.Lock()
        if isinstance(path, (str, Path)):
            self._stream: IO[bytes] = open(path, "ab")  # closed in shutdown
            self._owned = True
        else:
            self._stream = path
            self._owned = False

    def export(self, spans: Sequence[Span]) -> ExportResult:
        if not spans:
            return ExportResult.SUCCESS
        line = self._encoder.encode(spans) + b"\n"
        with self._lock:
            if self._stream.closed:
                return ExportResult.FAILURE
            self._stream.write(line)
            self._stream.flush()
        return ExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._owned and not self._stream.closed:
                self._stream.close()
