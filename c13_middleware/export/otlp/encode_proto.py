"""OTLP/HTTP binary protobuf encoding, built with the official ``opentelemetry-proto`` messages.

Speed comes from doing little per field in Python. Each span is created in place with one constructor call
(``spans.add(**fields)``) that passes only non-default fields. Its repeating parts, attributes and events seen
before, are serialized once by the official message classes and cached; a span takes them all with one
``MergeFromString`` (protobuf defines merging serialized messages as appending their repeated fields). Every byte
is produced by the protobuf runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...propagation._tracestate import TraceState
from ...trace._resource import SCHEMA_URL
from .common import (
    CONTEXT_HAS_IS_REMOTE_MASK,
    TRACE_FLAGS_MASK,
    FragmentCache,
    encode_counted,
    group_spans,
    link_flags,
    span_flags,
)
from .proto_values import CONTENT_TYPE, any_value, key_values, load_messages, set_any_value

if TYPE_CHECKING:
    from ...trace._resource import Resource
    from ...trace._span import Event, Link, Span


class ProtobufEncoder:
    """Spans → serialized ``ExportTraceServiceRequest``. Keeps bounded caches: reuse one instance."""

    content_type = CONTENT_TYPE

    def __init__(self) -> None:
        service, trace, resource = load_messages()
        self._request_type = service.ExportTraceServiceRequest
        self._resource_type = resource.Resource
        self._span_type = trace.Span
        self._resources: dict[int, tuple[Resource, Mapping[str, Any], bytes]] = {}
        self._attrs: FragmentCache[bytes] = FragmentCache()  # Span.attributes fragments
        self._event_attrs: FragmentCache[bytes] = FragmentCache()  # Span.Event.attributes fragments
        self._link_attrs: FragmentCache[bytes] = FragmentCache()  # Span.Link.attributes fragments
        self._events: FragmentCache[bytes] = FragmentCache(max_values_per_key=32)  # whole events, without time

    def encode(self, spans: Sequence[Span]) -> bytes:
        """The request body. A span that cannot be encoded (text that is not valid Unicode) is left out, logged once."""
        return encode_counted(self._encode, spans)[0]

    def encode_counted(self, spans: Sequence[Span]) -> tuple[bytes, int]:
        """The request body and how many spans were left out of it."""
        return encode_counted(self._encode, spans)

    def _encode(self, spans: Sequence[Span]) -> bytes:
        if not spans:
            return b""
        request = self._request_type()
        for resource, scopes in group_spans(spans):
            resource_spans = request.resource_spans.add(schema_url=SCHEMA_URL)
            resource_spans.resource.MergeFromString(self._resource_bytes(resource))
            for scope, members in scopes:
                message: dict[str, Any] = {"name": scope.name, "version": scope.version}
                if scope.attributes:
                    message["attributes"] = key_values(dict(scope.attributes))
                scope_spans = resource_spans.scope_spans.add(scope=message, schema_url=scope.schema_url)
                self._add_spans(scope_spans.spans.add, members)
        data: bytes = request.SerializeToString()
        return data

    def _resource_bytes(self, resource: Resource) -> bytes:
        cached = self._resources.get(id(resource))
        if cached is not None and cached[0] is resource and cached[1] is resource.attributes:
            return cached[2]
        if len(self._resources) >= 64:
            self._resources.clear()
        data: bytes = self._resource_type(attributes=key_values(resource.attributes)).SerializeToString()
        # Holding the resource keeps its id from being reused; a new attributes mapping (after fork) is a miss.
        self._resources[id(resource)] = (resource, resource.attributes, data)
        return data

    def _add_spans(self, add: Any, spans: Sequence[Span]) -> None:
        attrs = self._attrs
        get = attrs.get
        lookup = attrs.lookup
        events_get = self._events.get
        empty_state = TraceState.EMPTY
        for span in spans:
            ctx = span.context
            parent = span.parent
            # Only non-default fields are passed: every keyword costs time, even a zero or a None.
            if parent is None:
                message = add(
                    trace_id=ctx.trace_id.to_bytes(16, "big"), span_id=ctx.span_id.to_bytes(8, "big"),
                    flags=(ctx.trace_flags & TRACE_FLAGS_MASK) | CONTEXT_HAS_IS_REMOTE_MASK, name=span.name,
                    kind=span.kind, start_time_unix_nano=span.start_time, end_time_unix_nano=span.end_time or 0,
                )  # fmt: skip
            else:
                message = add(
                    trace_id=ctx.trace_id.to_bytes(16, "big"), span_id=ctx.span_id.to_bytes(8, "big"),
                    parent_span_id=parent.span_id.to_bytes(8, "big"), flags=span_flags(ctx, parent), name=span.name,
                    kind=span.kind, start_time_unix_nano=span.start_time, end_time_unix_nano=span.end_time or 0,
                )  # fmt: skip
            if ctx.trace_state is not empty_state:
                message.trace_state = ctx.trace_state.to_header()
            attributes = span.attributes
            found = list(map(get, attributes.items()))  # FragmentCache.lookup, inlined
            kinds = list(map(type, attributes.values()))
            if float in kinds or bool in kinds:
                found = lookup(attributes)
            if None in found:
                add_attribute = message.attributes.add
                for key, value in attrs.resolve(attributes, found, self._span_fragment):
                    if type(value) is str:
                        add_attribute(key=key).value.string_value = value
                    else:
                        set_any_value(add_attribute(key=key).value, value)
            if found:
                message.MergeFromString(b"".join(filter(None, found)))
            if span.events:
                add_event = message.events.add
                for event in span.events:
                    try:
                        fragment = events_get(
                            (event.name, tuple(event.attributes.items()), event.dropped_attributes_count)
                        )
                    except TypeError:
                        fragment = None
                    if fragment is None:
                        fragment = self._event_fragment(event)
                    if fragment is None:
                        self._add_event(message, event)
                    else:
                        add_event(time_unix_nano=event.timestamp).MergeFromString(fragment)
            if span.links:
                self._add_links(message, span.links)
            status = span.status
            if status.code:
                message.status.code = status.code
                if status.description:
                    message.status.message = status.description
            if span.dropped_attributes_count:
                message.dropped_attributes_count = span.dropped_attributes_count
            if span.dropped_events_count:
                message.dropped_events_count = span.dropped_events_count
            if span.dropped_links_count:
                message.dropped_links_count = span.dropped_links_count

    def _span_fragment(self, key: str, value: object) -> bytes:
        """``Span(attributes=[key: value])`` serialized: merged into a span, it appends the attribute."""
        data: bytes = self._span_type(attributes=[{"key": key, "value": any_value(value)}]).SerializeToString()
        return data

    def _event_fragment(self, event: Event) -> bytes | None:
        """The event without its time, serialized; cached. None for an event that does not repeat."""
        try:
            key = (event.name, tuple(event.attributes.items()), event.dropped_attributes_count)
            hash(key)
        except TypeError:
            return None
        return self._events.add(event.name, key, self._make_event, event)

    def _make_event(self, name: str, event: Event) -> bytes:
        holder = self._span_type()
        self._add_event(holder, event._replace(timestamp=0))
        data: bytes = holder.events[0].SerializeToString()
        return data

    def _add_event(self, message: Any, event: Event) -> None:
        added = message.events.add(time_unix_nano=event.timestamp, name=event.name)
        self._fill_attributes(added, self._event_attrs, self._span_type.Event, event.attributes)
        if event.dropped_attributes_count:
            added.dropped_attributes_count = event.dropped_attributes_count

    def _add_links(self, message: Any, links: Sequence[Link]) -> None:
        add_link = message.links.add
        for link in links:
            lctx = link.context
            added = add_link(
                trace_id=lctx.trace_id.to_bytes(16, "big"), span_id=lctx.span_id.to_bytes(8, "big"),
                flags=link_flags(lctx),
            )  # fmt: skip
            if len(lctx.trace_state):
                added.trace_state = lctx.trace_state.to_header()
            self._fill_attributes(added, self._link_attrs, self._span_type.Link, link.attributes)
            if link.dropped_attributes_count:
                added.dropped_attributes_count = link.dropped_attributes_count

    @staticmethod
    def _fill_attributes(
        message: Any, cache: FragmentCache[bytes], owner: Any, attributes: Mapping[str, object]
    ) -> None:
        """Give ``message`` (an ``owner``) its attributes: cached fragments merged, the others set directly."""
        if not attributes:
            return

        def make(key: str, value: object) -> bytes:
            data: bytes = owner(attributes=[{"key": key, "value": any_value(value)}]).SerializeToString()
            return data

        found = cache.lookup(attributes)
        if None in found:
            add_attribute = message.attributes.add
            for key, value in cache.resolve(attributes, found, make):
                set_any_value(add_attribute(key=key).value, value)
        message.MergeFromString(b"".join(filter(None, found)))
