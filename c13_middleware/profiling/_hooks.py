"""Context variables shared by the tracer core and the profiler.

``SPAN_ACTIVATION_LISTENER`` belongs to the core (``c13_middleware.trace._context``, which imports neither the
tracer nor the profiler): it is re-exported here so the profiler sets the very variable the core reads.
``ACTIVE_SESSIONS`` is the profiler's own.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from ..trace._context import SPAN_ACTIVATION_LISTENER

__all__ = ["ACTIVE_SESSIONS", "SPAN_ACTIVATION_LISTENER", "SpanActivationListener"]

#: ``listener(span_id, entering)``: called by the core whenever a span is made current (``entering=True``) or stops
#: being current (``entering=False``) in a context where a profiling session set it. Cheap, never raises.
SpanActivationListener = Callable[[int, bool], None]

#: The profiling sessions active in this context, outermost first. Copied contexts (tasks, thread-pool work items)
#: inherit it, which is how the sampler attributes work run in a thread pool to the request that submitted it.
#: Typed ``Any`` here to keep this module free of imports; the profiler stores ``ProfileSession`` objects.
ACTIVE_SESSIONS: ContextVar[tuple[Any, ...]] = ContextVar("c13_active_profile_sessions", default=())
