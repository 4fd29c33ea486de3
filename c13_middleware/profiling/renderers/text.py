"""Plain-text report: time split, top functions, hot lines, slow IO, memory hotspots and recommendations."""

from __future__ import annotations

from .._lines import display_path, is_library
from .._types import ProfileReport

__all__ = ["render_text"]


def _shown(where: str) -> str:
    """``/abs/path/app.py:16`` -> ``app.py:16`` (relative to its ``sys.path`` entry); URLs and names unchanged."""
    file, colon, line = where.rpartition(":")
    return f"{display_path(file)}:{line}" if colon and line.isdigit() and file.startswith("/") else where


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _functions(report: ProfileReport, limit: int, show_library: bool) -> list[str]:
    """Application code first, library frames folded into their caller (as pyinstrument does); or every function."""
    header = f"{'self ms':>9} {'total ms':>9} {'samples':>7} {'calls':>9} {'avg ms':>8}  function (file:line)"
    if show_library:
        chosen = [(f, f.self_s) for f in report.functions[:limit]]
        lines = ["Top functions by self time (all code)", header]
    else:
        chosen = [(f, f.app_self_s) for f in report.top_functions if f.app_self_s > 0][:limit]
        hidden = sum(1 for f in report.functions if f.app_self_s <= 0 and is_library(f.file))
        lines = [
            "Top functions by self time (application code; library time charged to its caller)",
            header,
        ]
    for f, own in chosen:
        calls = "-" if f.calls is None else f"{f.calls}{'' if f.calls_exact else '~'}"
        figures = f"{_ms(own):>9} {_ms(f.total_s):>9} {f.samples:>7} {calls:>9} {_ms(f.avg_s):>8}"
        lines.append(f"{figures}  {f.name} ({display_path(f.file)}:{f.line})")
    if not show_library and hidden:
        lines.append(f"({hidden} library functions folded; render_text(report, show_library=True) lists them)")
    return lines


def render_text(report: ProfileReport, *, limit: int = 20, show_library: bool = False) -> str:
    o = report.overhead
    lines = [
        f"c13 profile {report.profile_id} ({report.profile_type.value}){' ' + report.name if report.name else ''}",
        f"wall {_ms(report.wall_s)} ms | cpu {_ms(report.cpu_s)} ms | io wait {_ms(report.io_wait_s)} ms"
        f" | other wait {_ms(report.other_wait_s)} ms",
        f"samples {o.samples} ({o.achieved_rate_hz:.0f}/s, interval {_ms(o.interval_s)} ms, {o.mode}), "
        f"sampler CPU {_ms(o.sampling_time_s)} ms ({100 * o.cpu_share:.2f}% of one CPU)"
        + (f", {o.dropped_samples} dropped" if o.dropped_samples else ""),
        "",
        *_functions(report, limit, show_library),
    ]
    hot = [h for h in report.hot_lines[:limit] if h.self_s > 0]
    if hot:
        lines += ["", "Hot lines (self: the innermost line of application code)"]
        lines.append(f"{'self ms':>9} {'total ms':>9} {'samples':>7}  file:line  function")
        for h in hot:
            where = f"{display_path(h.file)}:{h.line}"
            lines.append(f"{_ms(h.self_s):>9} {_ms(h.total_s):>9} {h.samples:>7}  {where}  {h.function}")
    if report.slow_io:
        lines += ["", "Slow IO"]
        lines += [
            f"{_ms(e.duration_s):>9} ms  {e.kind:<8} {e.name}  at {_shown(e.where)}" for e in report.slow_io[:limit]
        ]
    if report.memory is not None:
        m = report.memory
        lines += [
            "",
            f"Memory ({m.scope}-wide): allocated {m.allocated_bytes / 1e6:.2f} MB, freed {m.freed_bytes / 1e6:.2f} MB,"
            f" peak {m.peak_bytes / 1e6:.2f} MB",
        ]
        lines += [f"{s.size_bytes / 1e3:>10.1f} kB {s.count:>7} blocks  {s.location}" for s in report.memory_hotspots]
    lines += ["", "Recommendations"]
    lines += [f"- [{r.rule}] {r.message}" for r in report.recommendations] or ["- none: no figure over a threshold"]
    if report.notes:
        lines += ["", "Notes"] + [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"
