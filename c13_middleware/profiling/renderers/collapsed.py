"""Collapsed stacks for flamegraph.pl / inferno: one ``root;child;leaf value`` line per distinct stack.

A frame is ``function (file:line)`` with the line it was executing (as py-spy writes them), the file relative to its
``sys.path`` entry. The value is sampled wall time in microseconds by default: ticks are uneven (C code holding the
GIL delays the sampler), so counts would misstate where the time went; ``weight="samples"`` gives counts.
"""

from __future__ import annotations

from collections import Counter

from .._lines import display_path
from .._types import FrameKey, ProfileReport

__all__ = ["render_collapsed"]


def _name(frame: FrameKey, line: int) -> str:
    # ";" separates frames and the last space separates the value: keep both out of frame names.
    return f"{frame.name} ({display_path(frame.file)}:{line})".replace(";", ":").replace("\n", " ")


def render_collapsed(report: ProfileReport, *, weight: str = "us") -> str:
    """``weight``: "us" (sampled wall time in microseconds, the default) or "samples" (counts)."""
    if weight not in ("samples", "us"):
        raise ValueError("weight must be 'us' or 'samples'")
    names: dict[tuple[int, int], str] = {}
    totals: Counter[str] = Counter()
    for sample in report.samples:
        lines = sample.lines or tuple(report.frames[i].line for i in sample.stack)
        parts = []
        for key in zip(sample.stack, lines, strict=True):
            name = names.get(key)
            if name is None:
                name = names[key] = _name(report.frames[key[0]], key[1])
            parts.append(name)
        totals[";".join(parts)] += 1 if weight == "samples" else round(sample.weight_s * 1e6)
    return "".join(f"{stack} {count}\n" for stack, count in sorted(totals.items()) if count > 0)
