"""speedscope JSON (https://www.speedscope.app/file-format-schema.json): one sampled profile per thread, in ms.

One frame per (function, executing line), named ``function:line`` so speedscope's views keep the lines apart.
"""

from __future__ import annotations

import json
from typing import Any

from .._types import ProfileReport

__all__ = ["SPEEDSCOPE_SCHEMA", "render_speedscope", "speedscope_document"]

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def speedscope_document(report: ProfileReport) -> dict[str, Any]:
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
                frames.append({"name": f"{frame.name}:{key[1]}", "file": frame.file, "line": key[1]})
            stack.append(index)
        stacks.append(stack)
        weights.append(round(sample.weight_s * 1000, 6))
    title = report.name or f"profile {report.profile_id}"
    profiles = [
        {
            "type": "sampled",
            "name": f"{title} (thread {thread_id})",
            "unit": "milliseconds",
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


def render_speedscope(report: ProfileReport) -> str:
    return json.dumps(speedscope_document(report), separators=(",", ":"))
