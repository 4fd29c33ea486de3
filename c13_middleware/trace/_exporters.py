"""Span exporters: where finished spans go. Network exporters live in their own modules."""

from __future__ import annotations

import enum
import json
import sys
import threading
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._span import Span


class ExportResult(enum.Enum):
    SUCCESS = 0
    FAILURE = 1


class SpanExporter:
    """Base class. ``export`` is called from the batch processor's thread, never from a request."""

    def export(self, spans: Sequence[Span]) -> ExportResult:
        raise NotImplementedError

    def shutdown(self) -> None:
        return None

    def stop_retrying(self) -> None:
        """The process is ending (called from any thread, before ``shutdown``): an export that fails should give
        up rather than wait to retry, so that what is queued gets one attempt each within the shutdown budget."""
        return None

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return True


class InMemoryExporter(SpanExporter):
    """Keeps finished spans in a list: for tests."""

    def __init__(self) -> None:
        self._spans: list[Span] = []
        self._lock = threading.Lock()

    def export(self, spans: Sequence[Span]) -> ExportResult:
        with self._lock:
            self._spans.extend(spans)
        return ExportResult.SUCCESS

    def get_finished_spans(self) -> list[Span]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()


def span_to_dict(span: Span) -> dict[str, Any]:
    """A plain, JSON-ready view of a finished span (ids as lower-case hex, times in epoch nanoseconds)."""
    ctx = span.context
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_span_id": f"{span.parent.span_id:016x}" if span.parent is not None else None,
        "trace_flags": ctx.trace_flags,
        "trace_state": ",".join(f"{k}={v}" for k, v in ctx.trace_state.items()),
        "start_time": span.start_time,
        "end_time": span.end_time,
        "status": {"code": span.status.code.name, "description": span.status.description},
        "attributes": dict(span.attributes),
        "events": [{"name": e.name, "timestamp": e.timestamp, "attributes": dict(e.attributes)} for e in span.events],
        "links": [
            {
                "trace_id": f"{link.context.trace_id:032x}",
                "span_id": f"{link.context.span_id:016x}",
                "attributes": dict(link.attributes),
            }
            for link in span.links
        ],
        "resource": dict(span.resource.attributes),
        "dropped": {
            "attributes": span.dropped_attributes_count,
            "events": span.dropped_events_count,
            "links": span.dropped_links_count,
        },
    }


class LineFile:
    """Appends whole lines to a file it opens (and closes on ``close``) or to a stream it is given."""

    def __init__(self, target: str | Path | IO[Any], mode: str) -> None:
        self._lock = threading.Lock()
        if isinstance(target, (str, Path)):
            self._stream: IO[Any] = open(target, mode, encoding=None if "b" in mode else "utf-8")  # closed in close()
            self._owned = True
        else:
            self._stream = target
            self._owned = False

    def write(self, text: Any) -> bool:
        with self._lock:
            if self._stream.closed:
                return False
            self._stream.write(text)
            self._stream.flush()
        return True

    def close(self) -> None:
        with self._lock:
            if self._owned and not self._stream.closed:
                self._stream.close()


class JSONLinesExporter(SpanExporter):
    """Appends one JSON object per span to a file (or an open text stream)."""

    def __init__(self, path: str | Path | IO[str]) -> None:
        self._file = LineFile(path, "a")

    def export(self, spans: Sequence[Span]) -> ExportResult:
        lines = "".join(json.dumps(span_to_dict(span), separators=(",", ":"), default=str) + "\n" for span in spans)
        return ExportResult.SUCCESS if self._file.write(lines) else ExportResult.FAILURE

    def shutdown(self) -> None:
        self._file.close()


def _format_duration(ns: int | None) -> str:
    if ns is None:
        return "open"
    return f"{ns / 1e6:.2f} ms" if ns >= 1_000_000 else f"{ns / 1e3:.1f} µs"


def render_tree(spans: Sequence[Span]) -> str:
    """Spans grouped by trace, children under their parents; spans whose parent is elsewhere are roots."""
    by_trace: dict[int, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span.context.trace_id].append(span)
    out: list[str] = []
    for trace_id, members in by_trace.items():
        ids = {s.context.span_id for s in members}
        children: dict[int | None, list[Span]] = defaultdict(list)
        for span in members:
            parent = span.parent.span_id if span.parent is not None and span.parent.span_id in ids else None
            children[parent].append(span)
        out.append(f"trace {trace_id:032x}")
        _render_children(children, None, 1, out)
    return "\n".join(out)


def _render_children(children: dict[int | None, list[Span]], parent: int | None, depth: int, out: list[str]) -> None:
    for span in sorted(children.get(parent, ()), key=lambda s: s.start_time):
        status = "" if span.status.code.name == "UNSET" else f" [{span.status.code.name}]"
        out.append(
            f"{'  ' * depth}└─ {span.name} ({span.kind.name}, {_format_duration(span.duration_ns)}){status}"
            f" span={span.context.span_id:016x}"
        )
        _render_children(children, span.context.span_id, depth + 1, out)


class ConsoleExporter(SpanExporter):
    """Prints each exported batch as a readable tree."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def export(self, spans: Sequence[Span]) -> ExportResult:
        text = render_tree(spans)
        with self._lock:
            stream = self._stream or sys.stdout
            stream.write(text + "\n")
            stream.flush()
        return ExportResult.SUCCESS
