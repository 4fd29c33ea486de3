"""Instrumentation must never break the user's app: failures are logged once per kind and swallowed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

logger = logging.getLogger("c13_middleware")

_seen: set[str] = set()
_seen_lock = threading.Lock()

P = ParamSpec("P")
R = TypeVar("R")


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


@contextmanager
def swallow(kind: str) -> Iterator[None]:
    """Run a block of instrumentation code; an exception in it is logged once and dropped."""
    try:
        yield
    except Exception:
        log_once(kind, "c13_middleware: %s failed; instrumentation continues without it", kind, exc_info=True)


def failsafe(kind: str, default: R) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an instrumentation helper so that its failure returns ``default`` instead of raising."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except Exception:
                log_once(kind, "c13_middleware: %s failed; instrumentation continues without it", kind, exc_info=True)
                return default

        wrapper.__name__ = getattr(func, "__name__", "wrapper")
        wrapper.__doc__ = func.__doc__
        return wrapper

    return decorate
