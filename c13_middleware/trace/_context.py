"""The current span, baggage and suppression flag, kept in contextvars.

contextvars follow asyncio tasks and any thread that runs in a copied context (``contextvars.copy_context``,
``asyncio.to_thread``, anyio's worker threads, asgiref), so the handler sees its request's span wherever it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ..propagation._baggage import Baggage
from ._span import SPAN_END_COLLECTOR as SPAN_END_COLLECTOR, Span

_current_span: ContextVar[Span | None] = ContextVar("c13_current_span", default=None)
_current_baggage: ContextVar[Baggage] = ContextVar("c13_baggage", default=Baggage.EMPTY)
_suppressed: ContextVar[bool] = ContextVar("c13_suppressed", default=False)

# Set by a per-request profiling session: told whenever a span becomes current (True) or stops being current (False).
SPAN_ACTIVATION_LISTENER: ContextVar[Callable[[int, bool], None] | None] = ContextVar(
    "c13_span_activation_listener", default=None
)


def current_span() -> Span | None:
    """The span current in this context, or None."""
    return _current_span.get()


def get_baggage() -> Baggage:
    return _current_baggage.get()


@contextmanager
def use_baggage(baggage: Baggage) -> Iterator[Baggage]:
    token = _current_baggage.set(baggage)
    try:
        yield baggage
    finally:
        _current_baggage.reset(token)


@contextmanager
def suppress_instrumentation() -> Iterator[None]:
    """No spans are started and no headers injected inside this block (exporters use it for their own calls)."""
    token = _suppressed.set(True)
    try:
        yield
    finally:
        _suppressed.reset(token)


def is_suppressed() -> bool:
    return _suppressed.get()


class _Activation:
    """Makes a span current until ``close()``; resets the contextvar even when closed from another context."""

    __slots__ = ("_span", "_token", "_listener")

    def __init__(self, span: Span) -> None:
        self._span = span
        self._token = _current_span.set(span)
        listener = SPAN_ACTIVATION_LISTENER.get()
        self._listener = listener
        if listener is not None:
            listener(span.context.span_id, True)

    def close(self) -> None:
        try:
            _current_span.reset(self._token)
        except ValueError:
            # Closed in a context other than the one that activated it (a generator finished by another task):
            # the activating context is gone with its task, so there is nothing left to restore.
            pass
        if self._listener is not None:
            self._listener(self._span.context.span_id, False)


@contextmanager
def use_span(span: Span, *, end_on_exit: bool = False, record_exception: bool = True) -> Iterator[Span]:
    """Make ``span`` current for the block; on an exception, record it and mark the span as an error."""
    activation = _Activation(span)
    try:
        yield span
    except BaseException as exc:
        if record_exception and isinstance(exc, Exception):
            span.record_exception(exc)
            span.set_error(exc)
        raise
    finally:
        activation.close()
        if end_on_exit:
            span.end()
