"""Who may read and write: loopback by default, a token otherwise; span values always come back as inert data."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as SDKGrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as SDKHttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

from c13_middleware.view._http import is_loopback, is_loopback_literal
from tests.view.conftest import View, start_view, stop_view
from tests.view.otlp_requests import span_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}
TOKEN = "s3cret-token-for-tests"


def _finished_span(provider: TracerProvider) -> ReadableSpan:
    span = provider.get_tracer("t").start_span("over-grpc")
    span.end()
    return span  # type: ignore[return-value]


def test_with_a_token_every_api_and_receiver_request_needs_it(tmp_path: Path) -> None:
    view = start_view(tmp_path, "--token", TOKEN)
    try:
        view.token = None  # send no token unless told
        assert view.get("/api/services")[0] == 401
        assert view.get("/api/services", {"Authorization": "Bearer wrong"})[0] == 401
        assert view.get("/api/services", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
        status, headers, _ = view.get(f"/api/services?token={TOKEN}")
        assert status == 200 and "HttpOnly" in headers["Set-Cookie"]
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        assert view.get("/api/services", {"Cookie": cookie})[0] == 200
        body = span_request("guarded").SerializeToString()
        assert view.post("/v1/traces", body, PROTOBUF)[0] == 401
        assert view.post("/v1/traces", body, {**PROTOBUF, "Cookie": cookie})[0] == 401  # receivers: header only
        assert view.post("/v1/traces", body, {**PROTOBUF, "Authorization": f"Bearer {TOKEN}"})[0] == 200
        provider = TracerProvider(resource=Resource.create({"service.name": "sdk-with-token"}))
        exporter = SDKHttpExporter(endpoint=view.otlp_http + "/v1/traces", headers={"authorization": f"Bearer {TOKEN}"})
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        provider.get_tracer("t").start_span("x").end()
        provider.shutdown()
        for service, headers in (("grpc-without", None), ("grpc-with-token", (("authorization", f"Bearer {TOKEN}"),))):
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            grpc_exporter = SDKGrpcExporter(endpoint=view.otlp_grpc, insecure=True, headers=headers, timeout=5)
            result = grpc_exporter.export([_finished_span(provider)])
            assert result is (SpanExportResult.SUCCESS if headers else SpanExportResult.FAILURE)
            grpc_exporter.shutdown()
        view.token = TOKEN
        view.wait_for_spans(3)
        assert sorted(view.json("/api/services")["data"]) == ["grpc-with-token", "guarded", "sdk-with-token"]
    finally:
        stop_view(view)


def test_without_a_token_only_loopback_host_names_are_answered(view: View) -> None:
    assert view.get("/api/services", {"Host": "attacker.example:16686"})[0] == 403
    assert view.get("/api/services", {"Host": "localhost:16686"})[0] == 200
    assert view.get("/api/services", {"Host": "127.0.0.2:16686"})[0] == 200


def test_the_host_check_never_resolves_names(monkeypatch: pytest.MonkeyPatch) -> None:
    def resolves_to_loopback(*args: object, **kwargs: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolves_to_loopback)  # as a rebinding attacker's DNS would answer
    assert is_loopback("rebind.attacker.example")  # a listen address: resolved
    assert not is_loopback_literal("rebind.attacker.example")  # a Host header: never resolved
    assert is_loopback_literal("[::1]") and is_loopback_literal("127.1.2.3") and is_loopback_literal("LOCALHOST")


def test_listening_beyond_loopback_without_a_token_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "c13_middleware", "view", "--host", "0.0.0.0", "--db", str(tmp_path / "x.db")],
        capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "--token" in result.stderr


def test_a_port_in_use_is_an_error_naming_its_flag(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "c13_middleware", "view", "--otlp-http-port", "0", "--otlp-grpc-port", "0",
             "--ui-port", str(port), "--db", str(tmp_path / "p.db")],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert result.returncode == 1
    assert "--ui-port" in result.stderr and str(port) in result.stderr


def test_hostile_span_values_come_back_as_escaped_json(view: View) -> None:
    hostile = "</script><script>alert(1)</script>"
    attributes = {"url.path": "/<img src=x onerror=alert(1)>"}
    request = span_request("evil<svc>", [{"name": hostile, "attributes": attributes}])
    assert view.post("/v1/traces", request.SerializeToString(), PROTOBUF)[0] == 200
    view.wait_for_spans(1)
    trace_id = request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    for path in (f"/api/traces/{trace_id}", f"/api/c13/traces/{trace_id}", "/api/services"):
        status, headers, body = view.get(path)
        assert status == 200
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert b"<" not in body and b">" not in body
    (trace,) = json.loads(view.get(f"/api/traces/{trace_id}")[2])["data"]
    assert trace["spans"][0]["operationName"] == hostile  # the value itself is intact
