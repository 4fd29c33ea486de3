"""Recommendations: each one is triggered by a figure over a ``ProfilingThresholds`` value and cites it.

A function is cited at its hottest line (``FunctionStats.hot_location``), else its ``def`` line.

Rules (no figure over its threshold, no advice):

* ``slow_function``: average time per call over ``slow_function_avg_s``. Per exact call in EXACT mode, else per
  observed invocation (sampling sees every long call). Only the deepest slow functions of each path are reported:
  a function is skipped when one of its callees is slow too (the callee is the one to look at), so the request's
  middleware and framework frames, slow only because they contain the handler, are not reported.
* ``frequent_calls``: more than ``frequent_calls`` calls (EXACT mode only: sampling cannot count calls).
* ``many_slow_io``: at least ``many_slow_io`` IO waits of ``slow_io_s`` or more (sampled, awaited or recorded).
* ``blocking_io_in_event_loop``: a slow blocking IO call sampled on the thread running the request's event loop.
* ``high_allocation_rate``: MEMORY mode, bytes allocated (net, or the peak when higher) per second of wall time
  over ``alloc_rate_bytes_per_s``; cites the top allocation site. The figure is process-wide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..findings._types import Finding
from ._types import AllocationSite, FunctionStats, IOEvent, MemoryStats, ProfilingThresholds, Recommendation

__all__ = ["advise", "as_findings", "from_findings"]


def as_findings(recommendations: Iterable[Recommendation], trace_id: int = 0) -> tuple[Finding, ...]:
    """The profile's recommendations as ``Finding`` values, the type span findings have (docs/findings.md)."""
    return tuple(Finding.from_recommendation(r, trace_id) for r in recommendations)


def from_findings(findings: Iterable[Finding]) -> tuple[Recommendation, ...]:
    """Span findings (N+1 queries, slow queries, sequential calls) as recommendations for a profile report."""
    return tuple(
        Recommendation(
            f.kind,
            f.summary,
            f.location.function if f.location else "",
            f"{f.location.file}:{f.location.line}" if f.location else "",
            f.value,
            f.threshold,
        )
        for f in findings
    )


def advise(
    functions: Sequence[FunctionStats],
    callees: dict[str, list[FunctionStats]],
    slow_io: Sequence[IOEvent],
    memory: MemoryStats | None,
    sites: Sequence[AllocationSite],
    wall_s: float,
    thresholds: ProfilingThresholds,
) -> tuple[Recommendation, ...]:
    found: list[Recommendation] = []
    found.extend(_slow_functions(functions, callees, thresholds))
    found.extend(_frequent_calls(functions, thresholds))
    found.extend(_io(slow_io, thresholds))
    found.extend(_allocation(memory, sites, wall_s, thresholds))
    return tuple(found[: thresholds.max_recommendations])


def _is_slow(stats: FunctionStats, limit: float) -> bool:
    return stats.avg_s is not None and stats.avg_s > limit


def _slow_functions(
    functions: Sequence[FunctionStats], callees: dict[str, list[FunctionStats]], thresholds: ProfilingThresholds
) -> list[Recommendation]:
    limit = thresholds.slow_function_avg_s
    out: list[Recommendation] = []
    for stats in sorted((f for f in functions if _is_slow(f, limit)), key=lambda f: f.total_s, reverse=True):
        if any(_is_slow(c, limit) for c in callees.get(stats.name + "\0" + stats.location, ())):
            continue
        assert stats.avg_s is not None and stats.max_s is not None
        how = "exact" if stats.calls_exact else "sampled"
        message = (
            f"{stats.name} ({stats.hot_location}) takes {stats.avg_s * 1000:.0f} ms per call on average "
            f"({how}, {stats.calls} call(s), max {stats.max_s * 1000:.0f} ms), over the "
            f"{limit * 1000:.0f} ms threshold; {max(stats.self_s, stats.app_self_s) * 1000:.0f} ms of it is at its "
            "own lines (library calls they make included): "
            "optimise it, cache its result or move it off the request path."
        )
        out.append(Recommendation("slow_function", message, stats.name, stats.hot_location, stats.avg_s, limit))
    return out


def _frequent_calls(functions: Sequence[FunctionStats], thresholds: ProfilingThresholds) -> list[Recommendation]:
    limit = thresholds.frequent_calls
    frequent = [f for f in functions if f.calls_exact and f.calls is not None and f.calls > limit]
    out: list[Recommendation] = []
    for stats in sorted(frequent, key=lambda f: f.calls or 0, reverse=True):
        assert stats.calls is not None and stats.avg_s is not None
        total = stats.avg_s * stats.calls
        message = (
            f"{stats.name} ({stats.hot_location}) was called {stats.calls:,} times (over {limit:,}), "
            f"{total * 1000:.1f} ms in total, {stats.avg_s * 1e6:.1f} us per call: batch the work, cache results "
            "or hoist invariant work out of the loop that calls it."
        )
        out.append(Recommendation("frequent_calls", message, stats.name, stats.hot_location, stats.calls, limit))
    return out


def _io(slow_io: Sequence[IOEvent], thresholds: ProfilingThresholds) -> list[Recommendation]:
    out: list[Recommendation] = []
    for event in slow_io:
        if event.blocking_loop:
            message = (
                f"{event.name} blocked the event loop for {event.duration_s * 1000:.0f} ms at {event.where} "
                f"(over {thresholds.slow_io_s * 1000:.0f} ms): every request on this loop waited; use the async "
                "equivalent or run it in a thread."
            )
            out.append(
                Recommendation(
                    "blocking_io_in_event_loop",
                    message,
                    event.name,
                    event.where,
                    event.duration_s,
                    thresholds.slow_io_s,
                )
            )
    if len(slow_io) >= thresholds.many_slow_io:
        worst = max(slow_io, key=lambda e: e.duration_s)
        total = sum(e.duration_s for e in slow_io)
        message = (
            f"{len(slow_io)} IO waits of {thresholds.slow_io_s * 1000:.0f} ms or more ({total * 1000:.0f} ms in "
            f"total); the slowest: {worst.name} for {worst.duration_s * 1000:.0f} ms at {worst.where}. Batch these "
            "calls, run them concurrently, or cache their results."
        )
        out.append(
            Recommendation("many_slow_io", message, worst.name, worst.where, len(slow_io), thresholds.many_slow_io)
        )
    return out


def _allocation(
    memory: MemoryStats | None, sites: Sequence[AllocationSite], wall_s: float, thresholds: ProfilingThresholds
) -> list[Recommendation]:
    if memory is None or wall_s <= 0:
        return []
    allocated = max(memory.allocated_bytes, memory.peak_bytes)
    rate = allocated / wall_s
    if rate <= thresholds.alloc_rate_bytes_per_s:
        return []
    top = sites[0] if sites else None
    where = top.location if top else "unknown"
    message = (
        f"{allocated / 1e6:.1f} MB allocated in {wall_s * 1000:.0f} ms ({rate / 1e6:.0f} MB/s, over "
        f"{thresholds.alloc_rate_bytes_per_s / 1e6:.0f} MB/s; process-wide figure)"
        + (f"; the top site {where} holds {top.size_bytes / 1e6:.1f} MB in {top.count} blocks" if top else "")
        + ": reuse buffers, stream instead of building whole objects, or avoid intermediate copies."
    )
    return [Recommendation("high_allocation_rate", message, where, where, rate, thresholds.alloc_rate_bytes_per_s)]
