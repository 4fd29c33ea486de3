"""Where a suspended asyncio request waits: its await chain, read by the sampler thread.

A suspended coroutine is on no thread's stack, but its task holds it: from the task's coroutine, ``cr_await``
(``gi_yieldfrom`` for generator-based awaitables) leads from each suspended coroutine to the one it awaits, down to
the innermost awaitable (a ``Future``, a task). The chain is read from the request's registered frame down. The
*site* is the innermost frame of the application's own code in it (else the innermost outside the async libraries):
the line the request waits on. What it awaits is named after the next coroutine in the chain (``asyncio.sleep``,
``anyio.to_thread.run_sync``) or the innermost awaitable's type (``Future``).

The waiting sample's stack is the chain from the registered frame to the site, plus a leaf frame
``[await] <what>``, so awaited time shows in every output under the line that awaited. When the chain holds no
application frame because the request awaits a *thread-pool* call of the application's function (a Starlette or
FastAPI sync endpoint: ``run_in_threadpool(func, ...)``, ``anyio.to_thread.run_sync(func)``), that function stands
in for the missing frame: the first positional argument of the site and of the frames it awaits, unwrapped through
``functools.partial`` and bound methods, is taken when it is a plain function of the application; it goes between
the site and the leaf (at its ``def`` line) and is the wait's ``where``. The stack tuples are reused
while the innermost suspended frame, its instruction and what it awaits are unchanged (a request waiting on one
``await`` costs a walk of its chain per tick and no allocation).
"""

from __future__ import annotations

import functools
import linecache
import sys
from types import CodeType, CoroutineType, FrameType, FunctionType, GeneratorType, MethodType
from typing import Any

from ._lines import is_library

__all__ = ["AwaitChain", "WaitSite", "synthetic_code"]

_ASYNC_LIBRARIES = frozenset({"asyncio", "anyio", "trio", "sniffio", "concurrent"})
_MAX_DEPTH = 128
_synthetic: dict[tuple[str, str, int], CodeType] = {}
_names: dict[CodeType, str] = {}
_TEMPLATE = compile("pass", "<await>", "exec")


class WaitSite:
    """A suspended request's waiting stack (leaf first, the ``[await]`` frame at index 0) and its site."""

    __slots__ = ("lastis", "site", "stack", "what", "where")

    def __init__(
        self, stack: tuple[CodeType, ...], lastis: tuple[int, ...], site: FrameType, what: str, where: str = ""
    ) -> None:
        self.stack = stack
        self.lastis = lastis
        self.site = site
        self.what = what
        self.where = where  # "file:line" when the wait belongs elsewhere than the site's line (a thread-pool call)


def _package(frame: FrameType) -> str:
    name = frame.f_globals.get("__name__")
    return name.partition(".")[0] if isinstance(name, str) else ""


def _awaited_name(frame: FrameType) -> str:
    """``asyncio.sleep`` for ``asyncio.tasks.sleep`` (the package exports it), else ``module.qualname``."""
    code = frame.f_code
    name = _names.get(code)
    if name is None:
        module = frame.f_globals.get("__name__")
        module = module if isinstance(module, str) else "?"
        qualname = getattr(code, "co_qualname", code.co_name)
        package = sys.modules.get(module.partition(".")[0])
        # The module's dict, not getattr: a package's lazy ``__getattr__`` must not run (import) in the sampler.
        namespace = getattr(package, "__dict__", None)
        exported = namespace.get(code.co_name) if isinstance(namespace, dict) else None
        if type(exported) is FunctionType and exported.__code__ is code:
            name = f"{module.partition('.')[0]}.{code.co_name}"
        else:
            name = f"{module}.{qualname}"
        if len(_names) > 10_000:  # pragma: no cover
            _names.clear()
        _names[code] = name
    return name


def _leaf(what: str, file: str, line: int) -> CodeType:
    return synthetic_code(f"[await] {what}", file, line)


def synthetic_code(label: str, file: str, line: int) -> CodeType:
    """A code object standing for a wait that has no frame of its own (reports name frames after code objects)."""
    key = (label, file, line)
    code = _synthetic.get(key)
    if code is None:
        code = _TEMPLATE.replace(co_name=label, co_filename=file, co_firstlineno=max(line, 1))
        if sys.version_info >= (3, 11):
            code = code.replace(co_qualname=label)
        if len(_synthetic) > 10_000:  # pragma: no cover
            _synthetic.clear()
        _synthetic[key] = code
    return code


class AwaitChain:
    """One session's view of its suspended request."""

    __slots__ = ("_fallback_lasti", "_innermost", "_key", "_last")

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._last: WaitSite | None = None
        self._innermost: Any = None  # the innermost coroutine/generator of the last chain read
        self._fallback_lasti = -1

    def read(self, start: Any, registered: dict[FrameType, bool]) -> WaitSite | None:
        """The waiting stack below the first registered frame met from ``start`` (a coroutine), or None."""
        last = self._last
        if last is not None and self._key is not None:
            # Still suspended at the same instruction on the same awaitable: the frames above it cannot have moved
            # (each is suspended in an await of the next), so the last answer holds without walking the chain.
            inner, frame, lasti, awaited = self._innermost, self._key[0], self._key[1], self._key[2]
            if type(inner) is CoroutineType:
                alive, current = inner.cr_frame is frame, inner.cr_await
            else:
                alive, current = inner.gi_frame is frame, inner.gi_yieldfrom
            if alive and current is awaited and frame.f_lasti == lasti:
                return last
        chain: list[FrameType] = []
        collecting = not registered
        awaitable = start
        innermost: Any = None
        for _ in range(_MAX_DEPTH):
            kind = type(awaitable)
            if kind is CoroutineType:
                frame, below = awaitable.cr_frame, awaitable.cr_await
            elif kind is GeneratorType:
                frame, below = awaitable.gi_frame, awaitable.gi_yieldfrom
            else:
                break
            if frame is None:
                break
            innermost, awaitable = awaitable, below
            if not collecting:
                include = registered.get(frame)
                if include is None:
                    continue
                collecting = True
                if not include:
                    continue
            chain.append(frame)
        if not chain:
            return None
        deepest = chain[-1]
        key = (deepest, deepest.f_lasti, awaitable, len(chain))
        self._innermost = innermost
        if key == self._key and self._last is not None:
            return self._last
        site_index = _site(chain)
        site = chain[site_index]
        if site_index + 1 < len(chain):
            callee = chain[site_index + 1]
            what = _awaited_name(callee)
            leaf = _leaf(what, callee.f_code.co_filename, callee.f_code.co_firstlineno)
        else:
            what = type(awaitable).__name__ if awaitable is not None else "?"
            leaf = _leaf(what, "<await>", 1)
        kept = chain[: site_index + 1]
        stack = (leaf, *[f.f_code for f in reversed(kept)])
        lastis = (-1, *[f.f_lasti for f in reversed(kept)])
        where = ""
        pooled = _pooled_function(chain, site_index) if is_library(site.f_code.co_filename) else None
        if pooled is not None:
            stack = (leaf, pooled, *stack[1:])
            lastis = (-1, -1, *lastis[1:])
            where = f"{pooled.co_filename}:{pooled.co_firstlineno}"
        self._key = key
        self._last = WaitSite(stack, lastis, site, what, where)
        return self._last

    def fallback(self, frame: FrameType) -> WaitSite:
        """When the chain cannot be read (no task, or the registered frame is not in it): the registered frame
        itself, named after its source line (read once per frame and instruction, not every tick)."""
        last = self._last
        if last is None or last.site is not frame or self._key is not None or self._fallback_lasti != frame.f_lasti:
            last = self._last = registered_site(frame)
            self._key, self._fallback_lasti = None, frame.f_lasti
        return last

    def clear(self) -> None:
        self._key = self._last = self._innermost = None


def _site(chain: list[FrameType]) -> int:
    """Index of the innermost application frame, else of the innermost frame outside the async libraries."""
    fallback = -1
    for index in range(len(chain) - 1, -1, -1):
        frame = chain[index]
        if not is_library(frame.f_code.co_filename):
            return index
        if fallback < 0 and _package(frame) not in _ASYNC_LIBRARIES:
            fallback = index
    return fallback if fallback >= 0 else len(chain) - 1


def _pooled_function(chain: list[FrameType], site_index: int) -> CodeType | None:
    """The application function that the site (or a frame it awaits) hands to a thread pool, if any: the first
    positional argument of those frames (``func`` of Starlette's ``run_in_threadpool``, anyio's ``run_sync``,
    asyncio's ``to_thread``). Only plain functions are accepted, read through ``partial`` and bound methods by
    their C attributes, so no user code runs in the sampler thread. Read once per wait (the caller caches it)."""
    for frame in chain[site_index:]:
        code = frame.f_code
        if not code.co_argcount:
            continue
        try:
            value: Any = frame.f_locals.get(code.co_varnames[0])
        except Exception:  # pragma: no cover - f_locals of an exotic frame
            continue
        for _ in range(4):
            kind = type(value)
            if kind is functools.partial:
                value = value.func
            elif kind is MethodType:
                value = value.__func__
            else:
                break
        if type(value) is FunctionType and not is_library(value.__code__.co_filename):
            return value.__code__
    return None


def registered_site(frame: FrameType) -> WaitSite:
    text = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()[:120] or frame.f_code.co_name
    return WaitSite((_leaf(text, "<await>", 1), frame.f_code), (-1, frame.f_lasti), frame, text)
