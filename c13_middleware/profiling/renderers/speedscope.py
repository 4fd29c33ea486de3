"""speedscope JSON (https://www.speedscope.app/file-format-schema.json): one sampled profile per thread.

One frame per (function, executing line), named ``function:line`` so speedscope's views keep the lines apart, the
file relative to its ``sys.path`` entry. Weights are sampled wall time in milliseconds by default
(``weight="samples"``: one per sample); each thread's profile is named after the thread.
"""

from __future__ import annotations

import json
from typing import Any

from .._lines import display_path
from .._types import ProfileReport

__all__ = ["SPEEDSCOPE_SCHEMA", "render_speedscope", "speedscope_document"]

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def speedscope_document(report: ProfileReport, *, weight: str = "time") -> dict[str, Any]:
    if weight not in ("time", "samples"):
        raise ValueError("weight must be 'time' or 'samples'")
    frames: list[dict[str, Any]] = []
    index_of: dict[tuple[int, int], int] = {}
    by_thread: dict[int, tuple[list[list[int]], list[float]]] = {}
    for sample in report.samples:
        stacks, weights = by_thread.setdefault(sample.thread_id, ([], []))
        lines = sample.lines or tuple(report.frames[i].line for i in sample.stack)
        stack = []
        for key in zip(sample.stack, lines, strict=True):
            index = index_of.get(key)
            if index is None:
                index = index_of[key] = len(frames)
                frame = report.frames[key[0]]
                frames.append({"name": f"{frame.name}:{key[1]}", "file": display_path(frame.file), "line": key[1]})
            stack.append(index)
        stacks.append(stack)
        weights.append(round(sample.weight_s * 1000, 6) if weight == "time" else 1)
    title = report.name or f"profile {report.profile_id}"
    profiles = [
        {
            "type": "sampled",
            "name": f"{title} (thread {report.thread_names.get(thread_id, thread_id)}, id {thread_id})",
            "unit": "milliseconds" if weight == "time" else "none",
            "startValue": 0,
            "endValue": round(sum(weights), 6),
            "samples": stacks,
            "weights": weights,
        }
        for thread_id, (stacks, weights) in by_thread.items()
    ]
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "shared": {"frames": frames},
        "profiles": profiles,
        "name": title,
        "activeProfileIndex": 0,
        "exporter": "c13_middleware",
    }


def render_speedscope(report: ProfileReport, *, weight: str = "time") -> str:
    return json.dumps(speedscope_document(report, weight=weight), separators=(",", ":"))
