"""The official ``opentelemetry-proto`` messages, loaded on first use, and attribute values for them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import INT64_MAX, INT64_MIN

CONTENT_TYPE = "application/x-protobuf"
INSTALL_HINT = "pip install 'c13-middleware[otlp]'"


def load_messages() -> Any:
    """The generated modules, imported on first use so that the core works without the ``otlp`` extra."""
    try:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
        from opentelemetry.proto.resource.v1 import resource_pb2
        from opentelemetry.proto.trace.v1 import trace_pb2
    except ImportError as exc:
        raise ImportError(f"OTLP protobuf export needs the opentelemetry-proto package: {INSTALL_HINT}") from exc
    if "flags" not in trace_pb2.Span.DESCRIPTOR.fields_by_name:  # OTLP 1.1 span flags: opentelemetry-proto 1.25+
        raise ImportError(f"OTLP protobuf export needs opentelemetry-proto 1.25 or later: {INSTALL_HINT}")
    return trace_service_pb2, trace_pb2, resource_pb2


def parse_response(body: bytes) -> tuple[int, str]:
    """``(rejected_spans, error_message)`` from a binary ``ExportTraceServiceResponse``; ``(0, "")`` when absent."""
    if not body:
        return 0, ""
    partial = load_messages()[0].ExportTraceServiceResponse.FromString(body).partial_success
    return int(partial.rejected_spans), str(partial.error_message)


def any_value(value: object) -> dict[str, Any]:
    """An ``AnyValue`` as constructor keywords. Ints outside int64 become strings; unknown types their ``str``."""
    kind = type(value)
    if kind is str:
        return {"string_value": value}
    if kind is bool:
        return {"bool_value": value}
    if kind is int:
        return {"int_value": value} if INT64_MIN <= value <= INT64_MAX else {"string_value": str(value)}  # type: ignore[operator]
    if kind is float:
        return {"double_value": value}
    if isinstance(value, (tuple, list)):
        return {"array_value": {"values": [any_value(item) for item in value]}}
    for base in (bool, int, float, str):  # str and int enums, numpy-like scalars registered as numbers
        if isinstance(value, base):
            return any_value(base(value))
    return {"string_value": str(value)}


def set_any_value(message: Any, value: object) -> None:
    """Fill an ``AnyValue`` in place: cheaper than building one from keywords."""
    kind = type(value)
    if kind is str:
        message.string_value = value
    elif kind is bool:
        message.bool_value = value
    elif kind is int and INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
        message.int_value = value
    elif kind is float:
        message.double_value = value
    else:
        message.MergeFrom(type(message)(**any_value(value)))


def key_values(attributes: Mapping[str, object]) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(value)} for key, value in attributes.items()]
