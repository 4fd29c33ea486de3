"""c13's propagator as an OpenTelemetry ``TextMapPropagator``: ``opentelemetry.propagate.inject`` writes c13's
context, and ``extract`` hands out c13's span where it already continues the carrier's trace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from c13_middleware.propagation._baggage import Baggage
from c13_middleware.propagation._propagators import Propagated, Propagator
from c13_middleware.trace._context import get_baggage
from c13_middleware.trace._tracer import get_tracer

from ._require import require

require("opentelemetry.trace", "otel")

from opentelemetry import baggage as otel_baggage, context as otel_context, trace as otel_trace  # noqa: E402
from opentelemetry.context.context import Context  # noqa: E402
from opentelemetry.propagators import textmap  # noqa: E402

from ._otel_spans import parent_context, to_otel_context  # noqa: E402


class C13TextMapPropagator(textmap.TextMapPropagator):
    """``propagator``: a c13 propagator; by default the one configured for the process default tracer (W3C Trace
    Context and Baggage unless configured otherwise).

    ``extract`` without a context starts from the current one (the API's "current Context"), and a carrier whose
    trace context c13's current span already continues (the request's own headers, read again by a framework's
    own instrumentation) leaves that span in place, so the framework's spans are children of c13's SERVER span.
    Baggage is OpenTelemetry's baggage of the context on top of c13's current baggage.
    """

    def __init__(self, propagator: Propagator | None = None) -> None:
        self._propagator = propagator

    def _c13(self) -> Propagator:
        return self._propagator if self._propagator is not None else get_tracer().config.propagator

    def extract(
        self,
        carrier: Any,
        context: Context | None = None,
        getter: textmap.Getter[Any] = textmap.default_getter,
    ) -> Context:
        base = otel_context.get_current() if context is None else context

        def get(name: str) -> Sequence[str]:
            return getter.get(carrier, name) or ()

        found = self._c13().extract(get, Propagated())
        remote = found.span_context
        if remote is not None:
            current, _ = parent_context(otel_trace.get_current_span(base))
            continued = current is not None and current.parent is not None and current.parent[:2] == remote[:2]
            if not continued:
                span = otel_trace.NonRecordingSpan(to_otel_context(remote))
                base = otel_trace.set_span_in_context(span, base)
        for name, entry in found.baggage.items():
            base = otel_baggage.set_baggage(name, entry.value, base)
        return base

    def inject(
        self,
        carrier: Any,
        context: Context | None = None,
        setter: textmap.Setter[Any] = textmap.default_setter,
    ) -> None:
        _, span_context = parent_context(otel_trace.get_current_span(context))
        baggage = get_baggage()
        for name, value in otel_baggage.get_all(context).items():
            baggage = baggage.set(name, str(value))

        def set_field(name: str, value: str) -> None:
            setter.set(carrier, name, value)

        self._c13().inject(set_field, Propagated(span_context, baggage if baggage else Baggage.EMPTY))

    @property
    def fields(self) -> set[str]:
        return set(self._c13().fields)
