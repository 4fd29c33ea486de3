"""Stored profiles in the formats other tools open (speedscope JSON, pprof), and as flame-graph trees.

A stored profile document (``_decode.ProfileDoc``) is turned back into a ``ProfileReport`` carrying its frames and
samples, so the profiler's own renderers write speedscope and pprof: one implementation of each format.
"""

from __future__ import annotations

from typing import Any

from ..profiling._types import (
    CallNode,
    FrameKey,
    ProfileReport,
    ProfilerOverhead,
    ProfileType,
    ReportSample,
    SampleState,
)
from ..profiling.renderers import render_pprof, speedscope_document

STATES = ("cpu", "io", "wait")


def _hex_int(text: str) -> int:
    try:
        return int(text, 16) if text else 0
    except ValueError:
        return 0


def report_from_document(doc: dict[str, Any]) -> ProfileReport:
    """The frames and samples of a stored profile as a ``ProfileReport`` (the per-function figures, findings and
    overhead are not sent over OTLP and are left empty)."""
    frames = tuple(FrameKey(str(name), str(file), int(line)) for name, file, line in doc["frames"])
    samples = tuple(
        ReportSample(tuple(stack), wall / 1e9, cpu / 1e9, SampleState(state), _hex_int(span_id), int(thread))
        for stack, wall, cpu, state, span_id, thread in doc["samples"]
    )
    attrs = doc.get("attributes", {})
    wall_s = doc["durationNs"] / 1e9
    try:
        kind = ProfileType.parse(str(attrs.get("c13.profile.type", "cpu")))
    except ValueError:
        kind = ProfileType.CPU
    total = sum(s.weight_s for s in samples)
    return ProfileReport(
        profile_id=doc["profileId"], profile_type=kind, name=doc.get("name", ""), started_at=doc["startNs"] / 1e9,
        wall_s=wall_s, cpu_s=float(attrs.get("c13.profile.cpu_s", 0.0) or 0.0),
        io_wait_s=float(attrs.get("c13.profile.io_wait_s", 0.0) or 0.0),
        other_wait_s=float(attrs.get("c13.profile.other_wait_s", 0.0) or 0.0), trace_id=_hex_int(doc["traceId"]),
        span_id=_hex_int(doc["spanId"]), frames=frames, samples=samples, functions=(), top_functions=(),
        call_tree=CallNode(FrameKey("<root>", "", 0), len(samples), total, 0.0), slow_io=(), memory=None,
        memory_hotspots=(), recommendations=(),
        overhead=ProfilerOverhead(samples=len(samples), ticks=0, sampling_time_s=0.0, achieved_rate_hz=0.0,
                                  interval_s=0.0),
    )  # fmt: skip


def speedscope(doc: dict[str, Any]) -> dict[str, Any]:
    return speedscope_document(report_from_document(doc))


def pprof(doc: dict[str, Any]) -> bytes:
    return render_pprof(report_from_document(doc))


def flame_tree(doc: dict[str, Any], span_ids: set[str] | None = None) -> dict[str, Any]:
    """The samples (of ``span_ids`` only, when given) as a call tree for a flame graph: each node
    ``{"name", "file", "line", "value", "self", "cpu", "io", "wait", "children"}``, values in nanoseconds of wall
    time (``cpu``/``io``/``wait`` split it by what the thread was doing), children sorted by value."""
    root = _node("all", "", 0)
    _add_samples(root, doc, span_ids)
    return _finish(root)


def merged_flame_tree(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several profiles' samples in one tree (frames matched by name, file and line), as ``flame_tree``."""
    root = _node("all", "", 0)
    for doc in docs:
        _add_samples(root, doc, None)
    return _finish(root)


def _add_samples(root: dict[str, Any], doc: dict[str, Any], span_ids: set[str] | None) -> None:
    frames = doc["frames"]
    for stack, wall, _cpu, state, span_id, _thread in doc["samples"]:
        if span_ids is not None and span_id not in span_ids:
            continue
        node = root
        _add(node, wall, state)
        for index in stack:
            key = tuple(frames[index])
            child = node["_by"].get(key)
            if child is None:
                child = node["_by"][key] = _node(*frames[index])
            node = child
            _add(node, wall, state)
        node["self"] += wall


def _node(name: str, file: str, line: int) -> dict[str, Any]:
    return {"name": name, "file": file, "line": line, "value": 0, "self": 0, "cpu": 0, "io": 0, "wait": 0, "_by": {}}


def _add(node: dict[str, Any], wall: int, state: int) -> None:
    node["value"] += wall
    node[STATES[state] if 0 <= state < 3 else "wait"] += wall


def _finish(node: dict[str, Any]) -> dict[str, Any]:
    stack = [node]
    while stack:  # iterative: deep recursion in a profile must not overflow here
        current = stack.pop()
        children = sorted(current.pop("_by").values(), key=lambda child: -child["value"])
        current["children"] = children
        stack.extend(children)
    return node


def subtree_span_ids(spans: list[dict[str, Any]], span_id: str) -> set[str]:
    """``span_id`` and every span below it in the trace."""
    children: dict[str, list[str]] = {}
    for span in spans:
        children.setdefault(span["parentSpanId"], []).append(span["spanId"])
    found, todo = set(), [span_id]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, ()))
    return found


__all__ = ["flame_tree", "merged_flame_tree", "pprof", "report_from_document", "speedscope", "subtree_span_ids"]
