"""Where in the application a database call was issued: the first frame outside c13, the drivers, the ORMs, the
web frameworks and the standard library's plumbing.

One walk up the calling thread's frames. Whether a code object belongs to a library is decided once, from its
module's top-level package name, and cached per code object, so a walk is a dictionary look-up per frame (cost in
docs/performance.md, "Database spans").
"""

from __future__ import annotations

import sys
from types import CodeType, FrameType
from typing import NamedTuple

__all__ = ["CodeLocation", "LIBRARY_PACKAGES", "caller_location"]

# Top-level packages whose frames are never "the user's code".
LIBRARY_PACKAGES = frozenset(
    {
        "c13_middleware", "integrations", "django", "sqlalchemy", "redis", "psycopg", "psycopg2", "psycopg_pool",
        "asyncpg", "aiosqlite", "sqlite3", "pymysql", "MySQLdb", "greenlet", "asgiref", "asyncio", "concurrent",
        "threading", "contextlib", "functools", "starlette", "fastapi", "flask", "werkzeug", "anyio", "uvicorn",
        "gunicorn", "runpy", "importlib", "unittest", "_pytest", "pytest", "pluggy", "rest_framework",
    }
)  # fmt: skip
_MAX_DEPTH = 200
_MAX_CACHED = 50_000
_library: dict[CodeType, bool] = {}


class CodeLocation(NamedTuple):
    function: str
    file: str
    line: int


def _is_library(frame: FrameType) -> bool:
    name = frame.f_globals.get("__name__")
    if type(name) is not str:
        return True
    return name.partition(".")[0] in LIBRARY_PACKAGES


def caller_location(skip: int = 0) -> CodeLocation | None:
    """The innermost frame that is not library code, from the caller's frame outwards (``skip``: frames known to be
    library code to step over first), or None."""
    try:
        frame: FrameType | None = sys._getframe(skip + 1)
    except ValueError:
        return None
    library = _library
    depth = 0
    while frame is not None and depth < _MAX_DEPTH:
        code = frame.f_code
        is_library = library.get(code)
        if is_library is None:
            is_library = _is_library(frame)
            if len(library) < _MAX_CACHED:
                library[code] = is_library
        if not is_library:
            return CodeLocation(getattr(code, "co_qualname", code.co_name), code.co_filename, frame.f_lineno)
        frame = frame.f_back
        depth += 1
    return None
