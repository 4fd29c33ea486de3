"""Message queues: carry trace context in message attributes (headers) and record PRODUCER / consumer spans.

Follows the OpenTelemetry messaging semantic conventions: the producer's ``send`` span is the message's creation
context and is injected into the message; a consumer's ``process`` span is a child of whatever is current where the
message is handled and LINKS to the creation context (a link, not a parent: a message can be handled long after,
in batches, or inside another request). Both the current attribute names (``messaging.operation.type``,
``messaging.operation.name``) and the older ``messaging.operation`` are set.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

from ..propagation._baggage import Baggage
from ..propagation._propagators import Propagated, Propagator, extract, inject, mapping_getter, mapping_setter
from ..trace._context import _current_baggage, _current_span, _suppressed, use_baggage, use_span
from ..trace._span import AttributeValue, Link, Span, SpanKind
from ..trace._tracer import Tracer, tracer_of
from ._core import baggage_destinations, current_tracer

# operation type -> (span kind, legacy messaging.operation value). Kinds per the current conventions: "send" and
# "create" are PRODUCER when their context is the creation context, "receive" (pull) is CLIENT, "process" CONSUMER.
_OPERATIONS: dict[str, tuple[SpanKind, str]] = {
    "send": (SpanKind.PRODUCER, "publish"),
    "create": (SpanKind.PRODUCER, "create"),
    "receive": (SpanKind.CLIENT, "receive"),
    "process": (SpanKind.CONSUMER, "process"),
}


def inject_message(
    attributes: MutableMapping[str, str],
    *,
    span: Span | None = None,
    propagator: Propagator | None = None,
    destination: str = "",
) -> None:
    """Write ``span``'s context (default: the current span's) into ``attributes``, and the current baggage if the
    span's pipeline lets baggage go to ``destination`` (the queue or topic name, matched as a host; docs/security.md,
    "Baggage").

    Does nothing inside ``suppress_instrumentation()`` or when there is no span. The propagator defaults to the
    one configured on the span's pipeline.
    """
    if _suppressed.get():
        return
    if span is None:
        span = _current_span.get()
        if span is None:
            return
    config = tracer_of(span).config
    if propagator is None:
        propagator = config.propagator
    baggage = _current_baggage.get()
    if baggage and not baggage_destinations(config).match(destination, None, destination):
        baggage = Baggage.EMPTY
    inject(mapping_setter(attributes), Propagated(span.context, baggage), propagator)


def extract_message(attributes: Mapping[str, str], *, propagator: Propagator | None = None) -> Propagated:
    """The creation context and baggage a producer injected (``Propagated()`` when there is none)."""
    if propagator is None:
        propagator = current_tracer().config.propagator
    return extract(mapping_getter(attributes), propagator)


def _attributes(
    system: str, destination: str, operation: str, extra: Mapping[str, AttributeValue] | None
) -> dict[str, AttributeValue]:
    _, legacy = _OPERATIONS.get(operation, (SpanKind.INTERNAL, operation))
    attributes: dict[str, AttributeValue] = {
        "messaging.system": system,
        "messaging.destination.name": destination,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.operation": legacy,
    }
    if extra:
        attributes.update(extra)
    return attributes


@contextmanager
def producer_span(
    system: str,
    destination: str,
    message_attributes: MutableMapping[str, str] | None = None,
    *,
    tracer: Tracer | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """A PRODUCER span ``send {destination}``, current inside the block, injected into ``message_attributes``.

    Without ``message_attributes``, call ``inject_message(headers)`` inside the block. An exception in the block
    is recorded (``error.type``) and re-raised. ``tracer`` defaults to the current span's, else the default.
    """
    tracer = tracer or current_tracer()
    span = tracer.start_span(
        f"send {destination}", kind=SpanKind.PRODUCER, attributes=_attributes(system, destination, "send", attributes)
    )
    with use_span(span, end_on_exit=True):
        if message_attributes is not None:
            inject_message(message_attributes, span=span, propagator=tracer.config.propagator, destination=destination)
        yield span


@contextmanager
def consumer_span(
    system: str,
    destination: str,
    message_attributes: Mapping[str, str] | None,
    operation: str = "process",
    *,
    tracer: Tracer | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """A ``{operation} {destination}`` span for handling one message, current inside the block.

    Its parent is the current span (or none: a new trace); it LINKS to the producer's creation context found in
    ``message_attributes``. ``operation`` is ``"process"`` (CONSUMER span, the default) or ``"receive"``
    (CLIENT span, a pull). The message's baggage, if any, is current inside the block.
    """
    tracer = tracer or current_tracer()
    incoming = Propagated()
    if message_attributes:
        incoming = extract(mapping_getter(message_attributes), tracer.config.propagator)
    links: tuple[Link, ...] = ()
    creation = incoming.span_context
    if creation is not None and creation.is_valid:
        links = (Link(creation),)
    kind, _ = _OPERATIONS.get(operation, (SpanKind.CONSUMER, operation))
    span = tracer.start_span(
        f"{operation} {destination}",
        kind=kind,
        links=links,
        attributes=_attributes(system, destination, operation, attributes),
    )
    baggage = incoming.baggage if incoming.baggage else _current_baggage.get()
    with use_baggage(baggage), use_span(span, end_on_exit=True):
        yield span


__all__ = ["consumer_span", "extract_message", "inject_message", "producer_span"]
