"""Source lines and code origins, resolved when a report is built (never on the sampler's hot path).

The sampler keeps each frame's code object and instruction offset (``f_lasti``, in bytes); ``line_of`` maps that
offset to the line being executed with the code object's line table (``co_lines``, PEP 626), cached per code.
``is_library`` tells the application's own code from the standard library, installed packages and c13 itself;
``display_path`` shortens a file name relative to the ``sys.path`` entry it was imported from
(``.../site-packages/starlette/routing.py`` -> ``starlette/routing.py``).
"""

from __future__ import annotations

import os
import sys
import sysconfig
from bisect import bisect_right
from types import CodeType

__all__ = ["display_path", "is_library", "line_of"]

_tables: dict[CodeType, tuple[list[int], list[int]]] = {}
_library: dict[str, bool] = {}
_display: dict[str, str] = {}
_C13_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _table(code: CodeType) -> tuple[list[int], list[int]]:
    table = _tables.get(code)
    if table is None:
        starts: list[int] = []
        lines: list[int] = []
        for start, _end, line in code.co_lines():
            if line is not None:
                starts.append(start)
                lines.append(line)
        table = _tables[code] = (starts, lines)
        if len(_tables) > 50_000:  # pragma: no cover - a bound for pathological code generation
            _tables.clear()
    return table


def line_of(code: CodeType, lasti: int) -> int:
    """The line executing at byte offset ``lasti`` of ``code`` (the ``def`` line when unknown)."""
    if lasti < 0:
        return code.co_firstlineno
    starts, lines = _table(code)
    index = bisect_right(starts, lasti) - 1
    return lines[index] if index >= 0 else code.co_firstlineno


_roots: tuple[str, ...] = ()


def _library_roots() -> tuple[str, ...]:
    global _roots
    if _roots:
        return _roots
    roots = {_C13_DIR}
    for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        paths = sysconfig.get_paths(vars=scheme_vars)
        for key in ("stdlib", "platstdlib", "purelib", "platlib"):
            if paths.get(key):
                roots.add(os.path.abspath(paths[key]) + os.sep)
    integrations = sys.modules.get("c13_middleware.integrations")
    file = getattr(integrations, "__file__", None)
    if isinstance(file, str):
        roots.add(os.path.dirname(os.path.abspath(file)) + os.sep)
    _roots = tuple(roots)
    return _roots


def is_library(file: str) -> bool:
    """True for the standard library, installed packages, c13 itself and code with no source file."""
    known = _library.get(file)
    if known is None:
        if file.startswith("<") or not file:
            known = True
        else:
            path = os.path.abspath(file)
            known = any(path.startswith(root) for root in _library_roots()) or "site-packages" + os.sep in path
        if len(_library) > 20_000:  # pragma: no cover
            _library.clear()
        _library[file] = known
    return known


def display_path(file: str) -> str:
    """``file`` relative to the longest ``sys.path`` entry containing it (absolute when none does)."""
    shown = _display.get(file)
    if shown is None:
        shown = file
        if os.path.isabs(file):
            best = ""
            for entry in sys.path:
                root = os.path.abspath(entry or os.getcwd())
                prefix = root if root.endswith(os.sep) else root + os.sep
                if file.startswith(prefix) and len(prefix) > len(best):
                    best = prefix
            if best:
                shown = file[len(best) :]
        if len(_display) > 20_000:  # pragma: no cover
            _display.clear()
        _display[file] = shown
    return shown
