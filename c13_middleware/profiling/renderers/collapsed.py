"""Collapsed stacks for flamegraph.pl / inferno: one ``root;child;leaf count`` line per distinct stack."""

from __future__ import annotations

from collections import Counter

from .._types import FrameKey, ProfileReport

__all__ = ["render_collapsed"]


def _name(frame: FrameKey) -> str:
    # ";" separates frames and the last space separates the count: keep both out of frame names.
    return f"{frame.name} ({frame.file}:{frame.line})".replace(";", ":").replace("\n", " ")


def render_collapsed(report: ProfileReport, *, weight: str = "samples") -> str:
    """``weight``: "samples" (counts) or "us" (sampled wall time in microseconds)."""
    if weight not in ("samples", "us"):
        raise ValueError("weight must be 'samples' or 'us'")
    names = [_name(f) for f in report.frames]
    totals: Counter[str] = Counter()
    for sample in report.samples:
        totals[";".join(names[i] for i in sample.stack)] += 1 if weight == "samples" else int(sample.weight_s * 1e6)
    return "".join(f"{stack} {count}\n" for stack, count in sorted(totals.items()) if count > 0)
