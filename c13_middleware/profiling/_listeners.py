"""Who is told about each finished profile report: the hook through which reports leave the process.

The profiler cannot import the export layer; the composition root registers a listener (the OTLP profile exporter's
``export``, when the environment asks for it). Listeners run on the thread that finished the profile, usually the
request's: they must only hand the report on (queue it), never send it. A failing listener is logged once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..trace._safety import log_once
from ._types import ProfileReport

ReportListener = Callable[[ProfileReport], None]

_lock = threading.Lock()
_listeners: tuple[ReportListener, ...] = ()


def add_report_listener(listener: ReportListener) -> None:
    global _listeners
    with _lock:
        if listener not in _listeners:
            _listeners = (*_listeners, listener)


def remove_report_listener(listener: ReportListener) -> bool:
    global _listeners
    with _lock:
        kept = tuple(item for item in _listeners if item != listener)
        removed, _listeners = len(kept) != len(_listeners), kept
    return removed


def report_listeners() -> tuple[ReportListener, ...]:
    return _listeners


def notify_report(report: ProfileReport) -> None:
    """Tell every listener about ``report``; never raises."""
    for listener in _listeners:
        try:
            listener(report)
        except Exception:
            log_once(f"report-listener:{listener!r}", "c13_middleware: a profile report listener raised",
                     exc_info=True)  # fmt: skip


__all__ = ["ReportListener", "add_report_listener", "notify_report", "remove_report_listener", "report_listeners"]
