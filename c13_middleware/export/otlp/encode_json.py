"""OTLP/HTTP JSON encoding, written directly as text.

It follows the OTLP JSON rules, which differ from protobuf's own JSON mapping: trace and span ids are hex
(never base64), enums are numbers, 64-bit integers are decimal strings, keys are lowerCamelCase, and fields at
their default value are left out. Attributes that repeat are encoded once and cached.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...propagation._tracestate import TraceState
from ...trace._resource import SCHEMA_URL
from .common import INT64_MAX, INT64_MIN, FragmentCache, encode_counted, group_spans, link_flags, span_flags

if TYPE_CHECKING:
    from ...trace._resource import Resource
    from ...trace._span import Event, Link, Span

CONTENT_TYPE = "application/json"

# A JSON string literal, quotes included (C implementation; non-ASCII text is kept as is).
quote: Any = getattr(json.encoder, "encode_basestring", None) or (lambda text: json.dumps(text, ensure_ascii=False))


def parse_response(body: bytes) -> tuple[int, str]:
    """``(rejected_spans, error_message)`` from a JSON ``ExportTraceServiceResponse``; ``(0, "")`` when absent.

    ``rejectedSpans`` is an int64, so a string or a number; snake_case names are accepted too.
    """
    if not body.strip():
        return 0, ""
    document = json.loads(body)
    partial = (
        (document.get("partialSuccess") or document.get("partial_success") or {}) if isinstance(document, dict) else {}
    )
    rejected = partial.get("rejectedSpans", partial.get("rejected_spans", 0))
    message = partial.get("errorMessage", partial.get("error_message", ""))
    return int(rejected or 0), str(message or "")


def any_value(value: object) -> str:
    """An ``AnyValue`` object. Ints outside int64 become strings (as in the protobuf form); unknown types their str."""
    kind = type(value)
    if kind is str:
        return f'{{"stringValue":{quote(value)}}}'
    if kind is bool:
        return '{"boolValue":true}' if value else '{"boolValue":false}'
    if kind is int:
        if INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
            return f'{{"intValue":"{value}"}}'
        return f'{{"stringValue":"{value}"}}'
    if kind is float:
        if math.isfinite(value):  # type: ignore[arg-type]
            return f'{{"doubleValue":{value!r}}}'
        return '{"doubleValue":"NaN"}' if value != value else f'{{"doubleValue":"{"-" if value < 0 else ""}Infinity"}}'  # type: ignore[operator]
    if isinstance(value, (tuple, list)):
        if not value:
            return '{"arrayValue":{}}'
        return f'{{"arrayValue":{{"values":[{",".join([any_value(item) for item in value])}]}}}}'
    for base in (bool, int, float, str):  # str and int enums
        if isinstance(value, base):
            return any_value(base(value))
    return f'{{"stringValue":{quote(str(value))}}}'


def key_value(key: str, value: object) -> str:
    return f'{{"key":{quote(key)},"value":{any_value(value)}}}'


class JsonEncoder:
    """Spans → an ``ExportTraceServiceRequest`` in OTLP JSON. Keeps bounded caches: reuse one instance."""

    content_type = CONTENT_TYPE

    def __init__(self) -> None:
        # The JSON form of an attribute is the same in spans, events, links and resources: one cache serves all.
        self._attrs: FragmentCache[str] = FragmentCache()
        self._events: FragmentCache[str] = FragmentCache(max_values_per_key=32)  # events without their time
        self._resources: dict[int, tuple[Resource, Mapping[str, Any], str]] = {}

    def encode(self, spans: Sequence[Span]) -> bytes:
        return encode_counted(self._encode, spans)[0]

    def encode_counted(self, spans: Sequence[Span]) -> tuple[bytes, int]:
        """The request body and how many spans were left out of it (one whose attribute fails to turn into text)."""
        return encode_counted(self._encode, spans)

    def _encode(self, spans: Sequence[Span]) -> bytes:
        if not spans:
            return b""
        out: list[str] = []
        for resource, scopes in group_spans(spans):
            scope_parts = []
            for scope, members in scopes:
                version = f',"version":{quote(scope.version)}' if scope.version else ""
                attributes = self._attributes(dict(scope.attributes))
                schema_url = f',"schemaUrl":{quote(scope.schema_url)}' if scope.schema_url else ""
                head = f'{{"scope":{{"name":{quote(scope.name)}{version}{attributes}}}{schema_url},"spans":['
                scope_parts.append(head + ",".join(self._spans(members)) + "]}")
            out.append(
                f'{{"resource":{self._resource(resource)},"scopeSpans":[{",".join(scope_parts)}],'
                f'"schemaUrl":"{SCHEMA_URL}"}}'
            )
        # Text that is not valid Unicode (a lone surrogate) becomes "?" rather than failing the batch.
        return f'{{"resourceSpans":[{",".join(out)}]}}'.encode("utf-8", "replace")

    def _resource(self, resource: Resource) -> str:
        cached = self._resources.get(id(resource))
        if cached is not None and cached[0] is resource and cached[1] is resource.attributes:
            return cached[2]
        if len(self._resources) >= 64:
            self._resources.clear()
        text = f'{{"attributes":[{",".join([key_value(k, v) for k, v in resource.attributes.items()])}]}}'
        # Holding the resource keeps its id from being reused; a new attributes mapping (after fork) is a miss.
        self._resources[id(resource)] = (resource, resource.attributes, text)
        return text

    def _attributes(self, attributes: Mapping[str, object]) -> str:
        """``,"attributes":[...]`` or nothing."""
        if not attributes:
            return ""
        cache = self._attrs
        found = cache.lookup(attributes)
        if None in found:
            found += [key_value(k, v) for k, v in cache.resolve(attributes, found, key_value)]
            return f',"attributes":[{",".join(filter(None, found))}]'
        return f',"attributes":[{",".join(found)}]'  # type: ignore[arg-type]

    def _spans(self, spans: Sequence[Span]) -> list[str]:
        cache = self._attrs
        get = cache.get
        empty_state = TraceState.EMPTY
        out = []
        for span in spans:
            attributes = span.attributes
            if attributes:  # _attributes(), inlined
                found = list(map(get, attributes.items()))
                kinds = list(map(type, attributes.values()))
                if float in kinds or bool in kinds:
                    found = cache.lookup(attributes)
                if None in found:
                    found += [key_value(k, v) for k, v in cache.resolve(attributes, found, key_value)]
                    attributes_part = f',"attributes":[{",".join(filter(None, found))}]'
                else:
                    attributes_part = f',"attributes":[{",".join(found)}]'  # type: ignore[arg-type]
            else:
                attributes_part = ""
            ctx = span.context
            parent = span.parent
            text = f'{{"traceId":"{ctx.trace_id:032x}","spanId":"{ctx.span_id:016x}"'
            if ctx.trace_state is not empty_state and len(ctx.trace_state):
                text += f',"traceState":{quote(ctx.trace_state.to_header())}'
            if parent is not None:
                text += f',"parentSpanId":"{parent.span_id:016x}"'
            text += (
                f',"flags":{span_flags(ctx, parent)},"name":{quote(span.name)},"kind":{span.kind:d}'
                f',"startTimeUnixNano":"{span.start_time}","endTimeUnixNano":"{span.end_time or span.start_time}"'
                f"{attributes_part}"
            )
            if span.dropped_attributes_count:
                text += f',"droppedAttributesCount":{span.dropped_attributes_count}'
            if span.events:
                text += f',"events":[{",".join([self._event(event) for event in span.events])}]'
            if span.dropped_events_count:
                text += f',"droppedEventsCount":{span.dropped_events_count}'
            if span.links:
                text += f',"links":[{",".join([self._link(link) for link in span.links])}]'
            if span.dropped_links_count:
                text += f',"droppedLinksCount":{span.dropped_links_count}'
            status = span.status
            if status.code:  # the core keeps a description only with ERROR
                message = f',"message":{quote(status.description)}' if status.description else ""
                text += f',"status":{{"code":{status.code:d}{message}}}'
            out.append(text + "}")
        return out

    def _event(self, event: Event) -> str:
        try:
            key = (event.name, tuple(event.attributes.items()), event.dropped_attributes_count)
            rest = self._events.get(key) or self._events.add(event.name, key, self._event_rest, event)
        except TypeError:  # an unhashable attribute value
            rest = None
        return f'{{"timeUnixNano":"{event.timestamp}"{rest or self._event_rest(event.name, event)}'

    def _event_rest(self, name: str, event: Event) -> str:
        """The event after its time: cached, since the same events recur."""
        dropped = (
            f',"droppedAttributesCount":{event.dropped_attributes_count}' if event.dropped_attributes_count else ""
        )
        return f',"name":{quote(name)}{self._attributes(event.attributes)}{dropped}}}'

    def _link(self, link: Link) -> str:
        ctx = link.context
        state = f',"traceState":{quote(ctx.trace_state.to_header())}' if len(ctx.trace_state) else ""
        dropped = f',"droppedAttributesCount":{link.dropped_attributes_count}' if link.dropped_attributes_count else ""
        return (
            f'{{"traceId":"{ctx.trace_id:032x}","spanId":"{ctx.span_id:016x}"{state}'
            f'{self._attributes(link.attributes)}{dropped},"flags":{link_flags(ctx)}}}'
        )
