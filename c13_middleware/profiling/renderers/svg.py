"""A self-contained SVG flame graph: no scripts, no external fonts or styles; hover titles show the figures.

The root (the request) is the bottom row; each frame's width is its share of the sampled wall time
(``weight="samples"``: of the samples). Files are shown relative to their ``sys.path`` entry. Library frames are
folded into one node per run (``_fold``) unless ``show_library=True``.
"""

from __future__ import annotations

import zlib
from xml.sax.saxutils import escape

from .._lines import display_path
from .._types import CallNode, ProfileReport
from ._fold import folded_tree

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
    height = header + depth * _ROW + 8
    title = (
        f"c13 profile {report.profile_id} ({report.profile_type.value}) {report.name} - wall "
        f"{report.wall_s * 1000:.1f} ms, cpu {report.cpu_s * 1000:.1f} ms, io wait {report.io_wait_s * 1000:.1f} ms"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="12">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fbfbf5"/>',
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<text x="8" y="34" fill="#555">{len(report.samples)} samples; width = share of '
        f"{'sampled time' if by_time else 'samples'}</text>",
    ]
    scale = (width - 16) / total
    pending: list[tuple[CallNode, float, int]] = [(root, 8.0, 0)]
    while pending:
        node, x, level = pending.pop()
        w = (node.total_s if by_time else node.samples) * scale
        if w < min_width_px:
            continue
        y = height - 8 - (level + 1) * _ROW
        label = "all" if level == 0 else node.frame.name
        where = f" {display_path(node.frame.file)}:{node.frame.line}" if level and node.frame.file else ""
        share = 100 * (node.total_s if by_time else node.samples) / total
        tip = f"{label}{where} - {node.total_s * 1000:.1f} ms ({share:.1f}%), {node.samples} samples"
        if node.lines:
            tip += "; lines " + ", ".join(f"{line}: {seconds * 1000:.1f} ms" for line, seconds in node.lines[:5])
        parts.append(
            f'<g><title>{escape(tip)}</title><rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{_ROW - 1}" '
            f'fill="{_color(label)}" rx="2"/>'
        )
        chars = int((w - 6) / _CHAR)
        if chars >= 3:
            text = label if len(label) <= chars else label[: chars - 2] + ".."
            parts.append(f'<text x="{x + 3:.2f}" y="{y + 12}">{escape(text)}</text>')
        parts.append("</g>")
        child_x = x
        for child in node.children:
            pending.append((child, child_x, level + 1))
            child_x += (child.total_s if by_time else child.samples) * scale
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
