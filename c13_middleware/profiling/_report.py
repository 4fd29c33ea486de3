"""Turning what a session collected into an immutable ``ProfileReport`` (function stats, call tree, time split)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from types import CodeType
from typing import Any

from ..findings._detect import detect_findings
from ..trace._safety import log_once
from ..trace._span import Span
from ._advice import advise, from_findings
from ._frames import frame_key
from ._lines import is_library, line_of
from ._tracking import Tracker
from ._types import (
    AllocationSite,
    CallNode,
    FrameKey,
    FunctionStats,
    IOEvent,
    LineStats,
    MemoryStats,
    ProfileReport,
    ProfilerOverhead,
    ProfileType,
    ProfilingThresholds,
    Recommendation,
    ReportSample,
    SampleState,
)

__all__ = ["RawProfile", "build_report"]

_MAX_SLOW_IO = 100
_MAX_TREE_DEPTH = 256
# Span findings are read from at most this many of the request's finished spans (detection is linear in them).
MAX_FINDING_SPANS = 1000


@dataclass(frozen=True)
class RawProfile:
    profile_id: str
    profile_type: ProfileType
    name: str
    started_at: float
    wall_s: float
    own_thread_cpu_s: float | None  # exact thread CPU of a session that owned its thread, else None
    tracker: Tracker
    trace_id: int
    span_id: int
    external_io: tuple[IOEvent, ...]
    exact: dict[CodeType, tuple[int, float, float, float]] | None
    memory: MemoryStats | None
    memory_sites: tuple[AllocationSite, ...]
    thresholds: ProfilingThresholds
    interval_s: float
    notes: tuple[str, ...]
    service: str = ""
    always_on: bool = False
    spans: tuple[Span, ...] = ()  # the request's finished spans (``RequestProfile``): read for span findings


def _span_findings(spans: tuple[Span, ...]) -> tuple[Recommendation, ...]:
    """N+1 queries, slow queries and sequential calls of the request's spans, as recommendations."""
    if not spans:
        return ()
    try:
        return from_findings(detect_findings(spans[:MAX_FINDING_SPANS]))
    except Exception:
        log_once("profile-findings", "c13_middleware: span findings for a profile failed", exc_info=True)
        return ()


def build_report(raw: RawProfile) -> ProfileReport:
    tracker = raw.tracker
    wall = max(raw.wall_s, 0.0)
    cpu = tracker.cpu_s
    if raw.own_thread_cpu_s is not None:
        cpu = raw.own_thread_cpu_s + (tracker.cpu_s - tracker.own_cpu_s)
    # Threads of one request can overlap (CPU may exceed wall); the waits fill what is left of the wall time.
    io = min(tracker.io_wait_s + tracker.await_io_s, max(0.0, wall - min(cpu, wall)))
    other = max(0.0, wall - min(cpu, wall) - io)

    frames: list[FrameKey] = []
    index_of: dict[CodeType, int] = {}
    # (id(stack), id(offsets)) -> [indices, lines, count, weight, cpu]; the tuples stay alive in tracker.samples
    per_stack: dict[tuple[int, int], list[Any]] = {}
    samples: list[ReportSample] = []
    for stack, lastis, weight, sample_cpu, state, span, thread in tracker.samples:
        key = (id(stack), id(lastis))
        entry = per_stack.get(key)
        if entry is None:
            for code in stack:
                if code not in index_of:
                    index_of[code] = len(frames)
                    frames.append(frame_key(code))
            indices = tuple(index_of[c] for c in reversed(stack))
            lines = tuple(line_of(c, i) for c, i in zip(reversed(stack), reversed(lastis), strict=True))
            entry = per_stack[key] = [indices, lines, 0, 0.0, 0.0]
        entry[2] += 1
        entry[3] += weight
        entry[4] += sample_cpu
        samples.append(ReportSample(entry[0], weight, sample_cpu, SampleState(state), span, thread, entry[1]))

    count = [0] * len(frames)
    self_s = [0.0] * len(frames)
    self_cpu = [0.0] * len(frames)
    total_s = [0.0] * len(frames)
    callees: dict[int, set[int]] = {}
    tree: dict[int, list[Any]] = {}
    for indices, lines, n, weight, sample_cpu in per_stack.values():
        leaf = indices[-1]
        self_s[leaf] += weight
        self_cpu[leaf] += sample_cpu
        for index in set(indices):
            total_s[index] += weight
            count[index] += n
        for caller, callee in zip(indices, indices[1:], strict=False):
            callees.setdefault(caller, set()).add(callee)
        level = tree
        for depth, index in enumerate(indices[:_MAX_TREE_DEPTH]):
            node = level.get(index)
            if node is None:
                node = level[index] = [0, 0.0, 0.0, {}, {}]
            node[0] += n
            node[1] += weight
            node[4][lines[depth]] = node[4].get(lines[depth], 0.0) + weight
            if depth == len(indices) - 1:
                node[2] += weight
            level = node[3]
    line_stats, hot, charged = _line_stats(per_stack.values(), frames)

    functions = _functions(raw, frames, index_of, count, self_s, self_cpu, total_s, hot, charged)
    by_key = {f.name + "\0" + f.location: f for f in functions}
    callee_stats = {
        frames[caller].name + "\0" + frames[caller].location: [
            by_key[frames[c].name + "\0" + frames[c].location] for c in targets if c != caller
        ]
        for caller, targets in callees.items()
    }
    slow_io = sorted(
        [e for e in (*tracker.io_events, *raw.external_io) if e.duration_s >= raw.thresholds.slow_io_s],
        key=lambda e: e.duration_s,
        reverse=True,
    )[:_MAX_SLOW_IO]
    root = CallNode(
        FrameKey(raw.name or "<request>", "", 0),
        len(samples),
        sum(s.weight_s for s in samples),
        0.0,
        _nodes(tree, frames),
    )
    notes = list(raw.notes)
    if not samples:
        notes.append("no samples: the request finished within one sampling interval or ran no Python code")
    overhead = ProfilerOverhead(
        samples=len(samples) + tracker.dropped,
        ticks=tracker.ticks,
        sampling_time_s=tracker.sampling_time,
        achieved_rate_hz=tracker.ticks / wall if wall > 0 else 0.0,
        interval_s=raw.interval_s,
        dropped_samples=tracker.dropped,
        mode="always-on" if raw.always_on else "on-demand",
        cpu_share=tracker.sampling_time / wall if wall > 0 else 0.0,
    )
    recommendations = advise(
        functions, callee_stats, tuple(slow_io), raw.memory, raw.memory_sites, wall, raw.thresholds
    ) + _span_findings(raw.spans)
    return ProfileReport(
        profile_id=raw.profile_id,
        profile_type=raw.profile_type,
        name=raw.name,
        started_at=raw.started_at,
        wall_s=wall,
        cpu_s=cpu,
        io_wait_s=io,
        other_wait_s=other,
        trace_id=raw.trace_id,
        span_id=raw.span_id,
        frames=tuple(frames),
        samples=tuple(samples),
        functions=tuple(functions),
        top_functions=tuple(
            sorted(functions, key=lambda f: (f.app_self_s, f.self_s, f.total_s), reverse=True)[
                : raw.thresholds.hot_functions
            ]
        ),
        call_tree=root,
        slow_io=tuple(slow_io),
        memory=raw.memory,
        memory_hotspots=raw.memory_sites,
        recommendations=recommendations,
        overhead=overhead,
        notes=tuple(notes),
        span_samples=dict(Counter(s.span_id for s in samples)),
        service=raw.service,
        thread_names=dict(tracker.thread_names),
        hot_lines=tuple(sorted(line_stats, key=lambda ls: (ls.self_s, ls.total_s), reverse=True)),
    )


def _functions(
    raw: RawProfile,
    frames: list[FrameKey],
    index_of: dict[CodeType, int],
    count: list[int],
    self_s: list[float],
    self_cpu: list[float],
    total_s: list[float],
    hot: dict[int, int],
    charged: dict[int, float],
) -> list[FunctionStats]:
    invocations = raw.tracker.invocations
    out: list[FunctionStats] = []
    for code, index in index_of.items():
        key = frames[index]
        calls: int | None = None
        low = avg = high = None
        exact = raw.exact is not None and code in raw.exact
        if raw.exact is not None and code in raw.exact:
            calls, total, low, high = raw.exact[code]
            avg = total / calls
        elif code in invocations:
            calls, total, low, high = invocations[code]
            avg = total / calls
        out.append(
            FunctionStats(
                key.name, key.file, key.line, count[index], self_s[index], total_s[index], self_cpu[index],
                calls, exact, low, avg, high, hot.get(index, 0), charged.get(index, 0.0),
            )
        )  # fmt: skip
    for code, (calls, total, low, high) in (raw.exact or {}).items():
        if code not in index_of:  # counted exactly but never caught by a sample
            key = frame_key(code)
            out.append(
                FunctionStats(key.name, key.file, key.line, 0, 0.0, 0.0, 0.0, calls, True, low, total / calls, high)
            )
    out.sort(key=lambda f: (f.self_s, f.total_s, f.calls or 0), reverse=True)
    return out


def _line_stats(
    per_stack: Iterable[list[Any]], frames: list[FrameKey]
) -> tuple[list[LineStats], dict[int, int], dict[int, float]]:
    """Per (function, line): total time with the line executing, and self time as the innermost application line;
    each function's hottest line (most total time); and per function, the time it was the innermost application
    frame (its self time plus that of the library code below it)."""
    library = [is_library(f.file) for f in frames]
    figures: dict[tuple[int, int], list[Any]] = {}  # (frame index, line) -> [samples, self, total]
    for indices, lines, n, weight, _cpu in per_stack:
        owner = len(indices) - 1
        while owner > 0 and library[indices[owner]]:
            owner -= 1
        if library[indices[owner]]:
            owner = len(indices) - 1  # no application code on the stack: the leaf line
        for key in set(zip(indices, lines, strict=True)):
            entry = figures.get(key)
            if entry is None:
                entry = figures[key] = [0, 0.0, 0.0]
            entry[0] += n
            entry[2] += weight
        figures[indices[owner], lines[owner]][1] += weight
    hot: dict[int, tuple[float, int]] = {}
    for (index, line), (_n, _own, total) in figures.items():
        if index not in hot or total > hot[index][0]:
            hot[index] = (total, line)
    stats = [
        LineStats(frames[index].name, frames[index].file, line, n, own, total)
        for (index, line), (n, own, total) in figures.items()
    ]
    charged: dict[int, float] = {}
    for (index, _line), (_n, own, _total) in figures.items():
        charged[index] = charged.get(index, 0.0) + own
    return stats, {index: line for index, (_total, line) in hot.items()}, charged


def _nodes(level: dict[int, list[Any]], frames: list[FrameKey]) -> tuple[CallNode, ...]:
    nodes = [
        CallNode(
            frames[index],
            n[0],
            n[1],
            n[2],
            _nodes(n[3], frames),
            tuple(sorted(n[4].items(), key=lambda item: item[1], reverse=True)),
        )
        for index, n in level.items()
    ]
    nodes.sort(key=lambda node: node.total_s, reverse=True)
    return tuple(nodes)
