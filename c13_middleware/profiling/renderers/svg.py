"""A self-contained SVG flame graph: one file, no network (no external script, font, style or image).

Click a frame to zoom into it (its ancestors span the width, dimmed), "Reset zoom" to go back; "Search" highlights
the frames whose name matches a regular expression and shows their share of the time; hovering a frame shows its
figures at the bottom (and as a ``<title>`` tooltip, which also works where scripts are off).

The root (the request) is the bottom row; each frame's width is its share of the sampled wall time
(``weight="samples"``: of the samples). Files are shown relative to their ``sys.path`` entry. Library frames are
folded into one node per run (``_fold``) unless ``show_library=True``.
"""

from __future__ import annotations

import zlib
from xml.sax.saxutils import escape, quoteattr

from .._lines import display_path
from .._types import CallNode, ProfileReport
from ._fold import folded_tree
from ._svg_script import SCRIPT

__all__ = ["render_svg"]

_ROW = 16
_CHAR = 7.0  # approximate width of a 12px monospace character


def _color(name: str) -> str:
    h = zlib.crc32(name.encode())
    return f"rgb({205 + h % 50},{(h >> 8) % 180 + 40},{(h >> 16) % 55})"


def _depth(node: CallNode, limit: int = 256) -> int:
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth < limit:
            stack.extend((child, depth + 1) for child in current.children)
    return deepest


def render_svg(
    report: ProfileReport,
    *,
    width: int = 1200,
    min_width_px: float = 0.5,
    weight: str = "time",
    show_library: bool = False,
) -> str:
    if weight not in ("time", "samples"):
        raise ValueError("weight must be 'time' or 'samples'")
    by_time = weight == "time"
    root = report.call_tree if show_library else folded_tree(report)
    total = (root.total_s if by_time else root.samples) or 1.0
    depth = _depth(root)
    header = 40
    height = header + depth * _ROW + 24
    title = (
        f"c13 profile {report.profile_id} ({report.profile_type.value}) {report.name} - wall "
        f"{report.wall_s * 1000:.1f} ms, cpu {report.cpu_s * 1000:.1f} ms, io wait {report.io_wait_s * 1000:.1f} ms"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" data-width="{width}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="12">',
        "<style>g.f { cursor: pointer; } g.f:hover rect { stroke: #000; stroke-width: 0.5; } "
        "g.parent rect { opacity: 0.5; } text.button { cursor: pointer; fill: #225; }</style>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fbfbf5"/>',
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<text x="8" y="34" fill="#555">{len(report.samples)} samples ({report.overhead.mode}, sampler CPU '
        f"{100 * report.overhead.cpu_share:.2f}%); width = share of {'sampled time' if by_time else 'samples'}; "
        "click a frame to zoom</text>",
        f'<text id="reset" class="button" x="{width - 200}" y="34" opacity="0.3">Reset zoom</text>',
        f'<text id="search" class="button" x="{width - 100}" y="34">Search</text>',
        f'<text id="matched" x="{width - 100}" y="{height - 6}" text-anchor="end"> </text>',
        f'<text id="details" x="8" y="{height - 6}"> </text>',
    ]
    span = width - 16
    scale = span / total
    pending: list[tuple[CallNode, float, int]] = [(root, 0.0, 0)]
    while pending:
        node, start, level = pending.pop()
        amount = node.total_s if by_time else node.samples
        w = amount * scale
        if w < min_width_px:
            continue
        x = 8 + start * scale
        y = height - 24 - (level + 1) * _ROW
        label = "all" if level == 0 else node.frame.name
        where = f" {display_path(node.frame.file)}:{node.frame.line}" if level and node.frame.file else ""
        tip = f"{label}{where} - {node.total_s * 1000:.1f} ms ({100 * amount / total:.1f}%), {node.samples} samples"
        if node.lines:
            tip += "; lines " + ", ".join(f"{line}: {seconds * 1000:.1f} ms" for line, seconds in node.lines[:5])
        color = _color(label)
        chars = int((w - 6) / _CHAR)
        text = "" if chars < 3 else label if len(label) <= chars else label[: chars - 2] + ".."
        parts.append(
            f'<g class="f" data-x="{start / total:.9f}" data-w="{amount / total:.9f}" data-d="{level}" '
            f'data-n={quoteattr(label)} data-c="{color}"><title>{escape(tip)}</title>'
            f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{_ROW - 1}" fill="{color}" rx="2"/>'
            f'<text x="{x + 3:.2f}" y="{y + 12}">{escape(text)}</text></g>'
        )
        child_start = start
        for child in node.children:
            pending.append((child, child_start, level + 1))
            child_start += child.total_s if by_time else child.samples
    parts.append(f'<script type="text/ecmascript"><![CDATA[{SCRIPT}]]></script>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
