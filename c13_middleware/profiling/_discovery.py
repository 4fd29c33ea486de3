"""Finding which request a thread-pool worker (or a spawned task) is working for.

A framework that runs a sync handler in a thread pool (anyio's ``to_thread.run_sync`` under Starlette/FastAPI,
asgiref's ``sync_to_async`` under Django, ``asyncio.to_thread``) runs it as ``context.run(func, ...)`` with a copy
of the request's ``contextvars.Context``; an asyncio task step runs the same way in its task's context. The copy
holds ``ACTIVE_SESSIONS``, but another thread's current context cannot be read from Python.

What the sampler can see is the frame that made the ``Context.run`` call: the executor keeps the context it runs in
a local variable (anyio: ``context``; asgiref: the closure variable ``context``), in an attribute of a local
(``asyncio.Handle._context`` via ``self``; ``concurrent.futures`` work item ``self.fn`` = ``partial(ctx.run, ...)``)
or in a bound ``ctx.run``. ``scan_frame`` looks for such a Context among the caller's locals (bounded: three hops
through bound methods, ``functools.partial``, tuples/lists and one level of instance attributes; at most 64 values),
and accepts it only if

* it holds active sessions, and
* it is *entered right now*: ``Context.run`` refuses to enter a context that is already entered, so the sampler
  tries ``ctx.run(int)``. A stale local (an idle worker still holding the last item's context) is not entered, so an
  idle worker is never charged to the request it served before;
* the callee does not reference it too (then the callee, or a frame above it, made the ``Context.run`` call, and
  the boundary is found further up: code a work item runs after its function returned is not charged).

The sampler calls this once per (parent frame, child frame) pair while the child lives, caches the answer and bounds
the number of new scans per thread per tick, so an unprofiled busy thread costs a few dict look-ups per sample.
Instance attributes are read with ``object.__getattribute__`` from plain ``__dict__``/``__slots__`` storage only, so
no user ``__getattr__``/property code runs in the sampler thread.
"""

from __future__ import annotations

import functools
import sys
from contextvars import Context
from types import BuiltinMethodType, FrameType, GetSetDescriptorType, MemberDescriptorType, MethodType
from typing import Any

from ._hooks import ACTIVE_SESSIONS

__all__ = ["context_sessions", "scan_frame"]

GIL_ENABLED: bool = getattr(sys, "_is_gil_enabled", lambda: True)()
_OBJECT_GETATTRIBUTE: Any = object.__getattribute__
_MAX_VALUES = 64
_MAX_DEPTH = 3
_SEQUENCE_ITEMS = 8


def scan_frame(parent: FrameType, child: FrameType) -> tuple[Any, ...] | None:
    """Active sessions if ``child`` is the first frame run inside an entered Context that ``parent`` references.

    A Context that ``child`` references as well was entered by ``child`` or deeper (``_WorkItem.run`` holds
    ``self.fn`` = ``ctx.run`` and is the one calling it), so the boundary is further up: not this one.

    None when the answer holds only for this instant, which the caller must not cache: the sampler's stack snapshot
    can be older than the scan (the sampled thread runs between the two), and a task's coroutine frame lives across
    many steps, each run by a new ``Handle._run`` that enters the task's Context again. So it is None when

    * a Context with live sessions is referenced but not entered right now, or
    * ``child`` is no longer ``parent``'s callee once the locals are read (a suspended coroutine's ``f_back`` is None
      or its next step's runner): ``parent`` may have left the call and dropped its locals (``Handle._run`` ends
      with ``self = None``), so finding nothing there says nothing about ``child``'s later steps.
    """
    if not GIL_ENABLED:  # pragma: no cover - free-threaded builds
        return ()
    transient = False
    for ctx in _contexts(_locals(parent)):
        sessions = context_sessions(ctx)
        if not sessions or any(c is ctx for c in _contexts(_locals(child))):
            continue
        if _entered(ctx):
            return sessions
        transient = True
    return None if transient or child.f_back is not parent else ()


def _locals(frame: FrameType) -> list[Any]:
    try:
        return list(frame.f_locals.values())
    except Exception:  # pragma: no cover - f_locals of an exotic frame
        return []


def context_sessions(ctx: Context) -> tuple[Any, ...]:
    sessions = ctx.get(ACTIVE_SESSIONS, ())
    return tuple(s for s in sessions if s.active)


def _entered(ctx: Context) -> bool:
    # Atomic only because the GIL is held throughout (``int()`` runs no bytecode): on a free-threaded build the
    # owner could fail to enter its context meanwhile, so discovery is off there (``GIL_ENABLED``).
    try:
        ctx.run(int)
    except RuntimeError:
        return True
    return False


def _contexts(values: list[Any]) -> list[Context]:
    found: list[Context] = []
    pending: list[tuple[Any, int]] = [(v, 0) for v in reversed(values[:_MAX_VALUES])]
    budget = _MAX_VALUES
    while pending and budget > 0:
        value, depth = pending.pop()
        budget -= 1
        kind = type(value)
        if kind is Context:
            found.append(value)
            continue
        if depth >= _MAX_DEPTH or value is None or kind in (int, str, bytes, float, bool):
            continue
        nxt = depth + 1
        if kind is BuiltinMethodType or kind is MethodType:
            pending.append((value.__self__, nxt))
        elif kind is functools.partial:
            pending.extend((item, nxt) for item in value.args[:_SEQUENCE_ITEMS])
            pending.append((value.func, nxt))
        elif kind is tuple or kind is list:
            pending.extend((item, nxt) for item in value[:_SEQUENCE_ITEMS])
        elif depth == 0:
            pending.extend((item, nxt) for item in _attributes(value))
    return found


def _attributes(value: Any) -> list[Any]:
    kind = type(value)
    if isinstance(value, type) or getattr(kind, "__getattribute__", None) is not _OBJECT_GETATTRIBUTE:
        return []
    out: list[Any] = []
    dict_descriptor: Any = None
    for klass in kind.__mro__[:-1]:
        own = klass.__dict__
        if dict_descriptor is None and "__dict__" in own:
            dict_descriptor = own["__dict__"]
        slots = own.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if isinstance(name, str) and type(own.get(name)) is MemberDescriptorType:
                try:
                    out.append(object.__getattribute__(value, name))
                except AttributeError:
                    pass
    if type(dict_descriptor) is GetSetDescriptorType:
        attrs = dict_descriptor.__get__(value, kind)
        if type(attrs) is dict:
            out.extend(list(attrs.values())[:_MAX_VALUES])
    return out
