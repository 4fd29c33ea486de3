"""The gRPC parts shared by the sync and aio interceptors: what a target, a peer and a method name become on a span,
and the client span's start when the pipeline or the call's metadata fails."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from c13_middleware import InMemoryExporter, StatusCode, Tracer
from c13_middleware.integrations._grpc_client import with_metadata
from c13_middleware.integrations._grpc_common import (
    ClientTracing,
    RpcSpan,
    method_attributes,
    parse_peer,
    parse_target,
    record_status,
)
from c13_middleware.trace._config import Config


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, (None, None)),
        ("", (None, None)),
        ("orders:50051", ("orders", 50051)),
        ("orders", ("orders", 443)),  # gRPC's resolver default
        ("dns:///orders.internal:8443", ("orders.internal", 8443)),
        ("dns://8.8.8.8/orders.internal:8443", ("orders.internal", 8443)),  # an authority before the host
        ("dns://orders", ("orders", 443)),
        ("ipv4:10.0.0.1:50051,10.0.0.2:50051", ("10.0.0.1", 50051)),  # the first of a list
        ("ipv6:[::1]:50051", ("::1", 50051)),
        ("[::1]:50051", ("::1", 50051)),
        ("unix:/run/orders.sock", ("run/orders.sock", None)),
        ("unix:///run/orders.sock", ("run/orders.sock", None)),
        ("unix-abstract:orders", ("orders", None)),
        ("unix:", (None, None)),
    ],
)
def test_a_channel_target_becomes_server_address_and_port(target: str | None, expected: tuple[Any, Any]) -> None:
    assert parse_target(target) == expected


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        (None, (None, None)),
        ("ipv4:127.0.0.1:40000", ("127.0.0.1", 40000)),
        ("ipv6:[::1]:40000", ("::1", 40000)),
        ("unix:/run/orders.sock", ("/run/orders.sock", None)),
        ("unix:", (None, None)),
    ],
)
def test_a_peer_becomes_client_address_and_port(peer: str | None, expected: tuple[Any, Any]) -> None:
    assert parse_peer(peer) == expected


@pytest.mark.parametrize(
    ("method", "name", "attributes"),
    [
        ("/shop.v1.Orders/Get", "shop.v1.Orders/Get", {"rpc.service": "shop.v1.Orders", "rpc.method": "Get"}),
        (b"/shop.v1.Orders/Get", "shop.v1.Orders/Get", {"rpc.service": "shop.v1.Orders", "rpc.method": "Get"}),
        ("/Get", "Get", {"rpc.method": "Get"}),
        ("/shop.v1.Orders/", "shop.v1.Orders/", {"rpc.service": "shop.v1.Orders"}),
        ("", "grpc", {}),
    ],
)
def test_a_method_name_becomes_the_span_name_and_rpc_attributes(
    method: str | bytes, name: str, attributes: dict[str, str]
) -> None:
    assert method_attributes(method) == (name, {"rpc.system": "grpc", **attributes})


def _tracer(spans: InMemoryExporter) -> Tracer:
    return Tracer(Config(service_name="grpc-common", exporter=spans, export_mode="simple"))


def test_a_client_span_ends_once_and_reports_once(exporter: InMemoryExporter) -> None:
    seen: list[tuple[str, Any]] = []

    class Observer:
        def rpc_call(self, kind: str, **report: Any) -> None:
            seen.append((kind, report["grpc_status_code"]))

    call = RpcSpan(_tracer(exporter).start_span("Svc/M"), observers=(Observer(),), rpc={"rpc.service": "Svc"})
    assert not call.finished
    call.finish(grpc.StatusCode.UNAVAILABLE)
    call.finish(grpc.StatusCode.OK)  # a second end (another thread's callback) changes nothing
    assert call.finished
    (span,) = exporter.get_finished_spans()
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAVAILABLE.value[0]
    assert span.status.code is StatusCode.ERROR
    assert seen == [("client", 14)]


def test_a_span_that_refuses_attributes_does_not_break_the_call(caplog: pytest.LogCaptureFixture) -> None:
    class Refusing:
        def set_attribute(self, key: str, value: Any) -> None:
            raise RuntimeError("closed")

    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        assert record_status(Refusing(), grpc.StatusCode.INTERNAL, None, server=True) is None  # type: ignore[arg-type]
    assert "recording a gRPC status failed" in caplog.text


def _details(metadata: Any = None) -> Any:
    return SimpleNamespace(method="/shop.v1.Orders/Get", timeout=None, metadata=metadata, credentials=None,
                           wait_for_ready=None, compression=None)  # fmt: skip


def test_a_unix_socket_target_has_no_port_and_the_context_still_travels(exporter: InMemoryExporter) -> None:
    tracing = ClientTracing("unix:/run/orders.sock", {"exporter": exporter, "export_mode": "simple"})
    started = tracing.start(_details((("x-tenant", "a"), ("traceparent", "stale"))), with_metadata)
    assert started is not None
    call, details = started
    call.finish(grpc.StatusCode.OK)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["server.address"] == "run/orders.sock" and "server.port" not in span.attributes
    sent = dict(details.metadata)
    assert sent["x-tenant"] == "a"
    assert sent["traceparent"].split("-")[2] == f"{span.context.span_id:016x}"  # replaced, not sent twice
    assert [key for key, _ in details.metadata].count("traceparent") == 1


def test_metadata_that_cannot_be_extended_leaves_the_call_as_it_was(
    exporter: InMemoryExporter, caplog: pytest.LogCaptureFixture
) -> None:
    tracing = ClientTracing("127.0.0.1:50051", {"exporter": exporter, "export_mode": "simple"})
    original = _details(metadata=42)  # not a sequence of pairs
    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        started = tracing.start(original, with_metadata)
    assert started is not None and started[1] is original
    assert "could not add trace metadata" in caplog.text
    started[0].finish(grpc.StatusCode.OK)
    assert exporter.get_finished_spans()[0].attributes["server.port"] == 50051


def test_a_pipeline_that_fails_leaves_the_call_untraced(
    exporter: InMemoryExporter, caplog: pytest.LogCaptureFixture
) -> None:
    tracing = ClientTracing("127.0.0.1:50051", {"exporter": exporter})

    def resolve() -> Any:
        raise RuntimeError("no tracer")

    tracing.pipeline = SimpleNamespace(resolve=resolve)  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        assert tracing.start(_details(), with_metadata) is None
    assert "could not start a gRPC client span" in caplog.text
    assert exporter.get_finished_spans() == []
