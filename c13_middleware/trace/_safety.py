"""Instrumentation must never break the user's app: failures are logged once per kind and swallowed."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("c13_middleware")

_seen: set[str] = set()
_seen_lock = threading.Lock()


def log_once(kind: str, message: str, *args: object, exc_info: bool = False, level: int = logging.WARNING) -> bool:
    """Log ``message`` the first time ``kind`` is seen in this process; return whether it was logged."""
    with _seen_lock:
        if kind in _seen:
            return False
        _seen.add(kind)
    logger.log(level, message, *args, exc_info=exc_info)
    return True


def reset_log_once() -> None:
    """For tests: forget which kinds were already logged."""
    with _seen_lock:
        _seen.clear()
