"""Ending the process without losing queued spans, and without hanging on a collector that is down.

One shutdown budget (``C13_SHUTDOWN_TIMEOUT`` seconds, default 2) serves every pipeline at once: all batch
processors are told to stop together and drain in parallel; once the budget is spent their exporters are shut
down, which cuts retries, backoffs and requests in flight short. This runs at exit, from ``flush_and_shutdown``
(for a server's own shutdown hook, such as an ASGI ``lifespan.shutdown``), and on SIGTERM for processes that would
otherwise die without running ``atexit`` (a signal's default action skips it).
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from ._processors import live_batch_processors, stop_processors
from ._safety import log_once

DEFAULT_SHUTDOWN_TIMEOUT = 2.0
_timeout: float | None = None


def set_shutdown_timeout(seconds: float | None) -> None:
    """The budget for the whole process (None: ``C13_SHUTDOWN_TIMEOUT``, else 2 s)."""
    global _timeout
    if seconds is not None and not seconds >= 0:
        raise ValueError(f"shutdown timeout must be >= 0 seconds, got {seconds!r}")
    _timeout = seconds


def shutdown_timeout() -> float:
    if _timeout is not None:
        return _timeout
    raw = os.environ.get("C13_SHUTDOWN_TIMEOUT", "").strip()
    if raw:
        try:
            value = float(raw)
            if value >= 0:
                return value
        except ValueError:
            pass
        log_once("shutdown-timeout-env", "c13_middleware: C13_SHUTDOWN_TIMEOUT=%r is not a number of seconds >= 0; "
                 "using %.1f", raw, DEFAULT_SHUTDOWN_TIMEOUT)  # fmt: skip
    return DEFAULT_SHUTDOWN_TIMEOUT


def flush_and_shutdown(timeout: float | None = None) -> bool:
    """Export what every pipeline has queued and stop them all, within ``timeout`` seconds in total (default: the
    process budget). For a server's shutdown hook; spans that end afterwards are dropped. True if all drained."""
    budget = shutdown_timeout() if timeout is None else max(0.0, timeout)
    try:
        return stop_processors(live_batch_processors(), time.monotonic() + budget)
    except Exception:
        log_once("flush-and-shutdown", "c13_middleware: shutting the span pipelines down failed", exc_info=True)
        return False


def flush(timeout: float | None = None) -> bool:
    """Export what every pipeline has queued, within ``timeout`` seconds in total; the pipelines keep running."""
    deadline = time.monotonic() + (shutdown_timeout() if timeout is None else max(0.0, timeout))
    waiters = [processor.request_flush(deadline) for processor in live_batch_processors() if processor.is_running]
    return all([waiter is not None and waiter.wait(max(0.0, deadline - time.monotonic())) for waiter in waiters])


atexit.register(flush_and_shutdown)

# SIGTERM. Installed once per process, from the main thread, when a pipeline that queues spans is built; never
# over a handler set outside Python or one that ignores the signal, and never again once the application (or
# its server) has replaced it.
_installed = False
_previous: Any = None


def install_sigterm_handler() -> bool:
    """Install the SIGTERM handler if it may be; True if this call installed it."""
    global _installed, _previous
    if _installed or not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
        return False
    if os.environ.get("C13_HANDLE_SIGTERM", "").strip().lower() == "false":
        return False
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None or previous is signal.SIG_IGN:
        return False
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main interpreter, or no signals here
        return False
    _installed, _previous = True, previous
    return True


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    previous = _previous
    if callable(previous):
        # Someone else handles the signal (a server's graceful shutdown): the process goes on for a while and
        # exits normally, so the pipelines are flushed now and shut down at exit.
        try:
            flush()
        finally:
            previous(signum, frame)
        return
    # The default action kills the process without running atexit: flush and stop everything, then die as the
    # signal would have made it.
    try:
        flush_and_shutdown()
    finally:
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)


__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "flush",
    "flush_and_shutdown",
    "install_sigterm_handler",
    "set_shutdown_timeout",
    "shutdown_timeout",
]
