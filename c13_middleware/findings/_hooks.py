"""Where findings go once detected: a process-wide count per (kind, route), read by the Prometheus metrics at scrape
time, and listeners.

This is the hook through which layers above (the metrics) see findings without the detectors knowing them: the
findings processor calls ``report``; ``export.prometheus`` reads ``finding_counts``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..trace._safety import log_once
from ._types import Finding

__all__ = ["add_listener", "finding_counts", "remove_listener", "report"]

# Distinct (kind, route) pairs kept before new routes are counted under "_OTHER" (routes are templates, so this is
# only reached by an application with unbounded route names).
MAX_SERIES = 2000
OTHER = "_OTHER"

Listener = Callable[[Finding, str], None]
_counts: dict[tuple[str, str], int] = {}
_listeners: list[Listener] = []
_lock = threading.Lock()


def report(findings: list[Finding], route: str) -> None:
    """Count ``findings`` of one request (``route``: its ``http.route``, or "") and pass them to the listeners."""
    if not findings:
        return
    with _lock:
        for finding in findings:
            key = (finding.kind, route)
            if key not in _counts and len(_counts) >= MAX_SERIES:
                key = (finding.kind, OTHER)
            _counts[key] = _counts.get(key, 0) + 1
        listeners = list(_listeners)
    for listener in listeners:
        for finding in findings:
            try:
                listener(finding, route)
            except Exception:
                log_once(f"finding-listener:{listener!r}", "c13_middleware: a findings listener raised", exc_info=True)


def finding_counts() -> dict[tuple[str, str], int]:
    """Findings counted since the process started, per (kind, http.route)."""
    with _lock:
        return dict(_counts)


def add_listener(listener: Listener) -> None:
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def _reset_for_tests() -> None:
    with _lock:
        _counts.clear()
