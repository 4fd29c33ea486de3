"""Helpers shared by the profiling tests ."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any

from c13_middleware.profiling import ProfileReport, ReportSample


def burn_alpha(seconds: float) -> int:
    """``seconds`` of this thread's CPU time (not wall time: a loaded machine stretches the wall time instead)."""
    n = 0
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        n += 1
    return n


def burn_beta(seconds: float) -> int:
    n = 0
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        n += 1
    return n


def running(report: ProfileReport) -> list[ReportSample]:
    """The samples of code executing on a thread (not the waiting samples of a suspended coroutine)."""
    return [s for s in report.samples if not report.frames[s.stack[-1]].name.startswith("[")]


def share(report: ProfileReport, function: str) -> float:
    """Fraction of the report's executing samples whose stack contains ``function``."""
    samples = running(report)
    if not samples:
        return 0.0
    hits = sum(1 for s in samples if any(report.frames[i].name.endswith(function) for i in s.stack))
    return hits / len(samples)


def has(report: ProfileReport, function: str) -> int:
    return sum(1 for s in report.samples if any(report.frames[i].name.endswith(function) for i in s.stack))


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an ``async def`` test with ``asyncio.run`` (the project uses no async pytest plugin)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper
