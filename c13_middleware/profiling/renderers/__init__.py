"""Renderers read a finished ``ProfileReport`` and never reach back into the sampler or the session."""

from __future__ import annotations

from .collapsed import render_collapsed
from .pprof import render_pprof
from .speedscope import SPEEDSCOPE_SCHEMA, render_speedscope, speedscope_document
from .svg import render_svg
from .text import render_text

__all__ = [
    "SPEEDSCOPE_SCHEMA",
    "render_collapsed",
    "render_pprof",
    "render_speedscope",
    "render_svg",
    "render_text",
    "speedscope_document",
]
