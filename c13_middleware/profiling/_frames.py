"""Naming frames, and the rule that tells an IO wait from other off-CPU time.

C functions have no Python frame: when a thread blocks in ``sock.recv`` or ``time.sleep`` the innermost Python frame
is the caller, stopped on the call. The rule (applied to off-CPU samples only):

1. the leaf frame's module is an IO module (``socket``, ``ssl``, ``selectors``, ``select``, ``subprocess``...), or
2. the call the leaf frame is executing, read from its source position (``co_positions`` on 3.11+, the line on
   3.10), ends in a known blocking name: ``sleep``; ``recv*``/``send*``/``accept``/``connect``/``getaddrinfo``;
   ``select``/``poll``; ``read*``/``write*``/``flush``; ``execute``/``fetch*``/``commit``; ``urlopen``...

Anything else off CPU (locks, queues, GIL, unknown C calls) is "wait", not IO. Results are cached per
``(code, instruction offset)``, so the source is read once per call site.
"""

from __future__ import annotations

import linecache
import re
import sys
from types import CodeType, FrameType

from ._types import FrameKey

__all__ = ["classify_io", "frame_key", "is_io_module", "is_selector_wait", "module_of"]

_IO_MODULES: dict[str, str] = {
    "socket": "socket",
    "ssl": "ssl",
    "selectors": "select",
    "select": "select",
    "subprocess": "subprocess",
    "http.client": "http",
    "urllib.request": "http",
    "asyncio.selector_events": "socket",
    "sqlite3": "db",
}
_IO_CALLS: dict[str, str] = {
    "sleep": "sleep",
    "recv": "socket",
    "recv_into": "socket",
    "recvfrom": "socket",
    "recvfrom_into": "socket",
    "recvmsg": "socket",
    "send": "socket",
    "sendall": "socket",
    "sendto": "socket",
    "sendmsg": "socket",
    "sendfile": "socket",
    "accept": "socket",
    "connect": "socket",
    "connect_ex": "socket",
    "create_connection": "socket",
    "getaddrinfo": "socket",
    "gethostbyname": "socket",
    "do_handshake": "ssl",
    "select": "select",
    "poll": "select",
    "epoll": "select",
    "read": "file",
    "readinto": "file",
    "readline": "file",
    "readlines": "file",
    "write": "file",
    "writelines": "file",
    "flush": "file",
    "fsync": "file",
    "execute": "db",
    "executemany": "db",
    "fetchone": "db",
    "fetchall": "db",
    "fetchmany": "db",
    "commit": "db",
    "urlopen": "http",
    "getresponse": "http",
    "communicate": "subprocess",
}
_CALLEE = re.compile(r"([A-Za-z_][\w.]*)\s*\(")

_keys: dict[CodeType, FrameKey] = {}
_io_cache: dict[tuple[CodeType, int], tuple[str, str] | None] = {}


def frame_key(code: CodeType) -> FrameKey:
    key = _keys.get(code)
    if key is None:
        name = getattr(code, "co_qualname", code.co_name)
        key = _keys[code] = FrameKey(name, code.co_filename, code.co_firstlineno)
        if len(_keys) > 50_000:  # pragma: no cover - a bound for pathological code generation
            _keys.clear()
    return key


def module_of(frame: FrameType) -> str:
    name = frame.f_globals.get("__name__")
    return name if isinstance(name, str) else ""


def is_io_module(frame: FrameType) -> bool:
    return module_of(frame) in _IO_MODULES


def is_selector_wait(frame: FrameType) -> bool:
    """True when a thread's leaf frame is an event loop's selector waiting for IO (the loop is idle)."""
    return frame.f_code.co_name in ("select", "poll", "_poll") and module_of(frame) in ("selectors", "select")


def classify_io(frame: FrameType) -> tuple[str, str] | None:
    """``(kind, what)`` if the leaf frame is in a blocking IO call, else None. Never raises."""
    code = frame.f_code
    key = (code, frame.f_lasti)
    try:
        return _io_cache[key]
    except KeyError:
        pass
    try:
        result = _classify(frame)
    except Exception:  # pragma: no cover - source unreadable in an unexpected way
        result = None
    if len(_io_cache) > 20_000:  # pragma: no cover
        _io_cache.clear()
    _io_cache[key] = result
    return result


def _classify(frame: FrameType) -> tuple[str, str] | None:
    code = frame.f_code
    module = module_of(frame)
    kind = _IO_MODULES.get(module)
    if kind is not None:
        return kind, f"{module}.{code.co_name}"
    text = _call_text(frame)
    for callee in _CALLEE.findall(text):
        kind = _IO_CALLS.get(callee.rsplit(".", 1)[-1])
        if kind is not None:
            return kind, callee
    return None


def _call_text(frame: FrameType) -> str:
    """The source of the call the frame is executing (3.11+), or its current line (3.10)."""
    code = frame.f_code
    if sys.version_info >= (3, 11):
        positions = list(code.co_positions())
        index = frame.f_lasti // 2
        if 0 <= index < len(positions):
            start, end, col, end_col = positions[index]
            if start is not None and end is not None and col is not None and end_col is not None:
                lines = [linecache.getline(code.co_filename, n) for n in range(start, end + 1)]
                if lines and all(lines):
                    if len(lines) == 1:
                        return lines[0][col:end_col]
                    return "".join([lines[0][col:], *lines[1:-1], lines[-1][:end_col]])
    return linecache.getline(code.co_filename, frame.f_lineno)  # pragma: no cover - 3.10 or no positions
