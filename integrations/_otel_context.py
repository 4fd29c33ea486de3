"""OpenTelemetry's runtime context kept in c13's contextvars: one current span for both worlds.

OpenTelemetry stores its ``Context`` (an immutable dict) in one ContextVar; c13 keeps the current span and the
suppression flag in contextvars of its own, read on every request. This runtime context makes c13's the source of
truth, so neither side pays for the other on its own path:

* ``attach(ctx)`` sets c13's current span from the context's span (a c13 span as is, a foreign one behind a
  ``ForeignSpan``) and c13's suppression flag from OpenTelemetry's suppression key, and remembers ``ctx`` for its
  other keys.
* ``get_current()`` returns the attached context while c13's span and flag are still the ones it was attached
  with; once c13 has made another span current (its SERVER span, a span started through the bridge) it builds the
  context with that span and keeps it for the next read in the same execution context.
* ``detach(token)`` restores all three. A token detached in another execution context than the one that attached
  it (a generator closed by another task, a streamed body iterated in a worker thread) has nothing to restore
  there: it is ignored, as c13's own spans do, instead of logging "Failed to detach context".
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

from c13_middleware.trace._context import SPAN_ACTIVATION_LISTENER, _current_span, _suppressed
from c13_middleware.trace._safety import log_once
from c13_middleware.trace._span import Span
from c13_middleware.trace._tracer import get_tracer

from ._require import require

require("opentelemetry.trace", "otel")

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY  # noqa: E402
from opentelemetry.context.context import Context, _RuntimeContext  # noqa: E402
from opentelemetry.trace.propagation import _SPAN_KEY  # noqa: E402

from ._otel_spans import c13_span_of, otel_span_of  # noqa: E402

SPAN_KEY = _SPAN_KEY
SUPPRESS_KEY = _SUPPRESS_INSTRUMENTATION_KEY
EMPTY = Context()


# (context, span, suppressed): the OpenTelemetry context and c13's current span and flag when it was attached or
# built. Plain tuples: these are made on every attach.
_Attached = tuple[Context, "Span | None", bool]
_attached: ContextVar[_Attached | None] = ContextVar("c13_otel_context", default=None)
_new = tuple.__new__


class AttachToken(tuple):  # type: ignore[type-arg]
    """What ``attach`` returns and ``detach`` takes: ``(attached, span, suppressed, listener, span_id)``, the
    contextvar tokens to restore (None: that variable was not changed) and the activation listener to tell."""

    __slots__ = ()


class C13RuntimeContext(_RuntimeContext):
    """Installed as ``opentelemetry.context``'s runtime context by ``install()``."""

    def get_current(self) -> Context:
        attached = _attached.get()
        span = _current_span.get()
        suppressed = _suppressed.get()
        if attached is None:
            if span is None and not suppressed:
                return EMPTY
            values: dict[str, object] = {}
        elif attached[1] is span and attached[2] is suppressed:
            return attached[0]
        else:
            values = dict(attached[0])
        if span is None:
            values.pop(SPAN_KEY, None)
        else:
            values[SPAN_KEY] = otel_span_of(span)
        if suppressed:
            values[SUPPRESS_KEY] = True
        else:
            values.pop(SUPPRESS_KEY, None)
        context = Context(values)
        # Kept for the next read here (the same span stays the same object); a later detach restores the value it
        # saved, whatever was set in between.
        _attached.set((context, span, suppressed))
        return context

    def attach(self, context: Context) -> Token[Context]:
        given: object = context
        if not isinstance(given, dict):  # not a Context: treated as an empty one
            context = EMPTY
        span = c13_span_of(context.get(SPAN_KEY), get_tracer)
        suppressed = bool(context.get(SUPPRESS_KEY))
        span_token = _current_span.set(span) if span is not _current_span.get() else None
        listener = SPAN_ACTIVATION_LISTENER.get() if span_token is not None and span is not None else None
        token = _new(
            AttachToken,
            (
                _attached.set((context, span, suppressed)),
                span_token,
                _suppressed.set(suppressed) if suppressed is not _suppressed.get() else None,
                listener,
                span.context.span_id if listener is not None else 0,  # type: ignore[union-attr]
            ),
        )
        if listener is not None:
            listener(token[4], True)
        return token  # type: ignore[return-value]  # the API only hands it back to detach

    def detach(self, token: Token[Context]) -> None:
        ours: object = token
        if type(ours) is not AttachToken:
            _reset(getattr(token, "var", None), token)  # from the runtime context this one replaced
            return
        attached, span, suppressed, listener, span_id = ours
        if suppressed is not None:
            _reset(_suppressed, suppressed)
        if span is not None:
            _reset(_current_span, span)
        _reset(_attached, attached)
        if listener is not None:
            listener(span_id, False)


def _reset(var: ContextVar[Any] | None, token: Token[Any] | None) -> None:
    if var is None or token is None:
        return
    try:
        var.reset(token)
    except ValueError:
        # Detached in another execution context than the attaching one: that context is out of reach (usually
        # gone with its task), and this one never held the value.
        pass
    except RuntimeError:
        log_once("otel-detach-twice", "c13_middleware: an OpenTelemetry context token was detached twice; ignored")


__all__ = ["EMPTY", "SPAN_KEY", "SUPPRESS_KEY", "AttachToken", "C13RuntimeContext"]
