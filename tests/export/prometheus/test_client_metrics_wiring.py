"""The httpx transport and the gRPC interceptors report their calls to a PrometheusMetrics observer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
from prometheus_client import CollectorRegistry

from c13_middleware import InMemoryExporter, PrometheusMetrics
from c13_middleware.integrations.grpc import client_interceptor, server_interceptor
from c13_middleware.integrations.httpx import C13Transport


def test_httpx_calls_are_recorded(exporter: InMemoryExporter) -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry, health=False)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503 if request.url.path == "/down" else 200, content=b"ok")

    transport = C13Transport(httpx.MockTransport(handler), exporter=exporter, observers=[metrics])
    with httpx.Client(transport=transport, base_url="http://api.internal:8080") as client:
        client.get("/up")
        client.get("/up")
        client.post("/down")
    count = "http_client_request_duration_seconds_count"
    labels = {"http_request_method": "GET", "server_address": "api.internal", "server_port": "8080"}
    ok = registry.get_sample_value(
        count, {**labels, "http_response_status_code": "200", "url_scheme": "http", "error_type": ""}
    )
    failed = registry.get_sample_value(
        count,
        {
            **labels,
            "http_request_method": "POST",
            "http_response_status_code": "503",
            "url_scheme": "http",
            "error_type": "503",
        },
    )
    assert ok == 2
    assert failed == 1


def test_grpc_client_and_server_calls_are_recorded(exporter: InMemoryExporter) -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry, health=False)

    def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
        if request == b"missing":
            context.abort(grpc.StatusCode.NOT_FOUND, "no")
        return request

    server = grpc.server(ThreadPoolExecutor(max_workers=2), interceptors=[server_interceptor(observers=[metrics])])
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("demo.Echo", {"Say": grpc.unary_unary_rpc_method_handler(echo)}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    target = f"127.0.0.1:{port}"
    try:
        with grpc.insecure_channel(target) as raw:
            channel = grpc.intercept_channel(raw, client_interceptor(target, observers=[metrics]))
            say = channel.unary_unary("/demo.Echo/Say")
            assert say(b"hi", timeout=5) == b"hi"
            try:
                say(b"missing", timeout=5)
            except grpc.RpcError as exc:
                assert exc.code() is grpc.StatusCode.NOT_FOUND
    finally:
        server.stop(None)
    base = {"rpc_system": "grpc", "rpc_service": "demo.Echo", "rpc_method": "Say"}
    for kind in ("client", "server"):
        ok = registry.get_sample_value(
            f"rpc_{kind}_call_duration_seconds_count", {**base, "rpc_grpc_status_code": "0", "error_type": ""}
        )
        assert ok == 1, kind
    client_error = {**base, "rpc_grpc_status_code": "5", "error_type": "NOT_FOUND"}
    server_not_error = {**base, "rpc_grpc_status_code": "5", "error_type": ""}  # NOT_FOUND is not a server error
    assert registry.get_sample_value("rpc_client_call_duration_seconds_count", client_error) == 1
    assert registry.get_sample_value("rpc_server_call_duration_seconds_count", server_not_error) == 1


def test_profiler_health_is_exported() -> None:
    from c13_middleware import Profiler

    registry = CollectorRegistry()
    PrometheusMetrics(registry=registry)
    before = registry.get_sample_value("c13_profiles_total") or 0.0
    with Profiler():
        sum(range(200_000))
    assert registry.get_sample_value("c13_profiles_total") == before + 1
    assert (registry.get_sample_value("c13_profiler_overhead_seconds_total") or 0.0) >= 0.0
