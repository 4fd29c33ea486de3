"""Library frames folded, as pyinstrument shows them: each run of consecutive frames of the standard library,
installed packages or c13 becomes one node, ``[4 library frames] starlette, c13_middleware``; application frames and
``[await]`` frames stay. Built from the samples, so time, samples and lines are those of the full call tree."""

from __future__ import annotations

import os
from typing import Any

from .._lines import display_path, is_library
from .._types import CallNode, FrameKey, ProfileReport

__all__ = ["folded_tree"]


def _package(file: str) -> str:
    shown = display_path(file)
    if shown.startswith("<"):  # <frozen importlib._bootstrap>
        return shown.strip("<>").split(" ")[-1].split(".")[0]
    head = shown.split(os.sep, 1)[0]
    return head[:-3] if head.endswith(".py") else head


def _steps(report: ProfileReport, stack: tuple[int, ...], lines: tuple[int, ...]) -> list[tuple[Any, FrameKey, int]]:
    """The sample's path root to leaf: (node key, frame, line) per shown frame; a library run is one step."""
    steps: list[tuple[Any, FrameKey, int]] = []
    run: list[int] = []
    for index, line in zip(stack, lines, strict=True):
        frame = report.frames[index]
        if is_library(frame.file) and not frame.name.startswith("[await] "):
            run.append(index)
            continue
        if run:
            steps.append(_run_step(report, run))
            run = []
        steps.append((index, frame, line))
    if run:
        steps.append(_run_step(report, run))
    return steps


def _run_step(report: ProfileReport, run: list[int]) -> tuple[Any, FrameKey, int]:
    packages = list(dict.fromkeys(_package(report.frames[i].file) for i in run))
    label = f"[{len(run)} library frame{'s' if len(run) > 1 else ''}] {', '.join(packages)}"
    return ("run", tuple(run)), FrameKey(label, "", 0), 0


def folded_tree(report: ProfileReport) -> CallNode:
    tree: dict[Any, list[Any]] = {}  # key -> [frame, samples, total, self, children, lines]
    for sample in report.samples:
        lines = sample.lines or tuple(report.frames[i].line for i in sample.stack)
        steps = _steps(report, sample.stack, lines)
        level = tree
        for depth, (key, frame, line) in enumerate(steps):
            node = level.get(key)
            if node is None:
                node = level[key] = [frame, 0, 0.0, 0.0, {}, {}]
            node[1] += 1
            node[2] += sample.weight_s
            if line:
                node[5][line] = node[5].get(line, 0.0) + sample.weight_s
            if depth == len(steps) - 1:
                node[3] += sample.weight_s
            level = node[4]
    root = report.call_tree
    return CallNode(root.frame, root.samples, root.total_s, root.self_s, _nodes(tree))


def _nodes(level: dict[Any, list[Any]]) -> tuple[CallNode, ...]:
    nodes = [
        CallNode(n[0], n[1], n[2], n[3], _nodes(n[4]), tuple(sorted(n[5].items(), key=lambda i: i[1], reverse=True)))
        for n in level.values()
    ]
    nodes.sort(key=lambda node: node.total_s, reverse=True)
    return tuple(nodes)
