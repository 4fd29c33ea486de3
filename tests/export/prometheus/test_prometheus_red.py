"""Server RED metrics through the framework adapters, read back from the registry."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from c13_middleware import AlwaysOffSampler, InMemoryExporter
from c13_middleware.export.prometheus import PrometheusMetrics, metrics_asgi_app, metrics_wsgi_app
from c13_middleware.integrations.flask import C13
from tests.conftest import traced_starlette

DURATION = "http_server_request_duration_seconds"
ACTIVE = "http_server_active_requests"
OTEL_BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "5.0", "7.5"]
OTEL_BUCKETS += ["10.0", "+Inf"]


def server_labels(route: str, status: str, error_type: str = "", method: str = "GET") -> dict[str, str]:
    return {
        "http_request_method": method,
        "http_route": route,
        "http_response_status_code": status,
        "url_scheme": "http",
        "error_type": error_type,
    }


def count(registry: CollectorRegistry, labels: dict[str, str]) -> float | None:
    return registry.get_sample_value(f"{DURATION}_count", labels)


def all_samples(registry: CollectorRegistry, name: str) -> list[Any]:
    return [sample for family in registry.collect() for sample in family.samples if sample.name == name]


def starlette_app(registry: CollectorRegistry, metrics: PrometheusMetrics, options: dict[str, Any]) -> Starlette:
    async def item(request: Request) -> Response:
        active = registry.get_sample_value(ACTIVE, {"http_request_method": "GET", "url_scheme": "http"})
        return JSONResponse({"id": request.path_params["item_id"], "active": active})

    async def boom(request: Request) -> Response:
        raise RuntimeError("kaboom")

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/items/{item_id:int}", item, methods=["GET", "POST"]),
        Route("/boom", boom),
        Route("/health", health),
        Route("/metrics", metrics_asgi_app(registry)),
    ]
    return traced_starlette(routes, observers=[metrics], exclude_paths=["/health", "/metrics"], **options)


def test_starlette_requests_are_counted_by_route_template(
    registry: CollectorRegistry, metrics: PrometheusMetrics, options: dict[str, Any]
) -> None:
    client = TestClient(starlette_app(registry, metrics, options), raise_server_exceptions=False)
    for item_id in (1, 22, 333):
        response = client.get(f"/items/{item_id}")
        assert response.status_code == 200
        assert response.json()["active"] == 1.0  # the request itself, seen from inside its handler
    assert client.post("/items/4").status_code == 200
    assert client.get("/boom").status_code == 500
    assert client.get("/nope/123").status_code == 404
    for _ in range(4):
        assert client.get("/health").text == "ok"

    assert count(registry, server_labels("/items/{item_id:int}", "200")) == 3
    assert count(registry, server_labels("/items/{item_id:int}", "200", method="POST")) == 1
    # The exception escaped the middleware before any response: the server answers 500, error_type names the exception.
    assert count(registry, server_labels("/boom", "500", "RuntimeError")) == 1
    assert count(registry, server_labels("", "404")) == 1  # no route: empty label, never the raw path
    # Excluded paths (and the metrics endpoint) never reach the histogram: 6 requests in all.
    assert sum(s.value for s in all_samples(registry, f"{DURATION}_count")) == 6
    assert all(
        value not in ("/nope/123", "/health", "/items/1")
        for s in all_samples(registry, f"{DURATION}_count")
        for value in s.labels.values()
    )
    total = registry.get_sample_value(f"{DURATION}_sum", server_labels("/items/{item_id:int}", "200"))
    assert total is not None and 0 < total < 10
    assert registry.get_sample_value(ACTIVE, {"http_request_method": "GET", "url_scheme": "http"}) == 0
    assert registry.get_sample_value(ACTIVE, {"http_request_method": "POST", "url_scheme": "http"}) == 0


def test_histogram_has_exactly_the_otel_buckets(
    registry: CollectorRegistry, metrics: PrometheusMetrics, options: dict[str, Any]
) -> None:
    client = TestClient(starlette_app(registry, metrics, options))
    client.get("/items/1")
    client.get("/items/2")
    labels = server_labels("/items/{item_id:int}", "200")
    buckets = [s for s in all_samples(registry, f"{DURATION}_bucket") if s.labels["http_route"] == labels["http_route"]]
    assert [s.labels["le"] for s in buckets] == OTEL_BUCKETS
    assert registry.get_sample_value(f"{DURATION}_bucket", {**labels, "le": "+Inf"}) == 2
    assert registry.get_sample_value(f"{DURATION}_bucket", {**labels, "le": "10.0"}) == 2
    cumulative = [s.value for s in buckets]
    assert cumulative == sorted(cumulative)


def test_metrics_endpoint_serves_the_registry(
    registry: CollectorRegistry, metrics: PrometheusMetrics, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    client = TestClient(starlette_app(registry, metrics, options))
    client.get("/items/9")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    scraped = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert scraped[(f"{DURATION}_count", tuple(sorted(server_labels("/items/{item_id:int}", "200").items())))] == 1
    assert ("c13_profiles_total", ()) in scraped
    assert [s.name for s in exporter.get_finished_spans()] == ["GET /items/{item_id:int}"]  # /metrics untraced


def flask_app(registry: CollectorRegistry, metrics: PrometheusMetrics, options: dict[str, Any]) -> Flask:
    app = Flask(__name__)

    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> dict[str, Any]:
        active = registry.get_sample_value(ACTIVE, {"http_request_method": "GET", "url_scheme": "http"})
        return {"id": user_id, "active": active}

    @app.get("/fail")
    def fail() -> str:
        raise ValueError("broken")

    @app.get("/health")
    def health() -> str:
        return "ok"

    C13(app, observers=[metrics], exclude_paths=["/health"], **options)
    # Outermost, after C13: scrapes of /metrics are not traced at all.
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": metrics_wsgi_app(registry)})  # type: ignore[method-assign]
    return app


def test_flask_requests_are_counted_by_rule(
    registry: CollectorRegistry, metrics: PrometheusMetrics, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    client = flask_app(registry, metrics, options).test_client()

    def get(path: str) -> Any:
        response = client.get(path)
        response.close()  # as a WSGI server does: the request (and its span) ends with the response body
        return response

    assert get("/users/5").json == {"id": 5, "active": 1.0}
    assert get("/users/6").status_code == 200
    assert get("/fail").status_code == 500
    assert get("/missing").status_code == 404
    assert get("/health").text == "ok"

    assert count(registry, server_labels("/users/<int:user_id>", "200")) == 2
    # Flask turned the exception into a 500 response: both the status and the exception's class are labels.
    assert count(registry, server_labels("/fail", "500", "ValueError")) == 1
    assert count(registry, server_labels("", "404")) == 1
    assert sum(s.value for s in all_samples(registry, f"{DURATION}_count")) == 4
    assert registry.get_sample_value(ACTIVE, {"http_request_method": "GET", "url_scheme": "http"}) == 0

    scrape = get("/metrics")
    assert scrape.status_code == 200 and b'http_route="/users/<int:user_id>"' in scrape.data
    assert len(exporter.get_finished_spans()) == 4  # the scrape made no span


def test_exemplars_link_buckets_to_traces(
    registry: CollectorRegistry, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    metrics = PrometheusMetrics(registry, exemplars=True)
    TestClient(starlette_app(registry, metrics, options)).get("/items/1")
    (span,) = exporter.get_finished_spans()
    text = openmetrics_latest(registry).decode()  # type: ignore[no-untyped-call]
    assert f'trace_id="{span.context.trace_id:032x}"' in text
    assert f'span_id="{span.context.span_id:016x}"' in text


def test_unsampled_requests_are_counted_without_exemplars(
    registry: CollectorRegistry, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    metrics = PrometheusMetrics(registry, exemplars=True)
    client = TestClient(starlette_app(registry, metrics, {**options, "sampler": AlwaysOffSampler()}))
    client.get("/items/1")
    client.get("/items/2")
    assert exporter.get_finished_spans() == []
    assert count(registry, server_labels("/items/{item_id:int}", "200")) == 2
    assert "trace_id=" not in openmetrics_latest(registry).decode()  # type: ignore[no-untyped-call]


def test_finish_without_start_leaves_the_gauge_alone(registry: CollectorRegistry, metrics: PrometheusMetrics) -> None:
    class Request:
        method, scheme, route, status, error_type, span = "GET", "https", "/x", 204, None, None

    metrics.request_finished(Request(), 0.5)  # type: ignore[arg-type]
    labels = {**server_labels("/x", "204"), "url_scheme": "https"}
    assert count(registry, labels) == 1
    assert registry.get_sample_value(ACTIVE, {"http_request_method": "GET", "url_scheme": "https"}) is None


@pytest.mark.parametrize("namespace", ["", "shop"])
def test_same_registry_twice_shares_the_instruments(registry: CollectorRegistry, namespace: str) -> None:
    first = PrometheusMetrics(registry, namespace=namespace)
    second = PrometheusMetrics(registry, namespace=namespace)  # no "Duplicated timeseries"
    first.http_client_request(method="GET", server_address="a", server_port=80, status=200, duration_s=0.1)
    second.http_client_request(method="GET", server_address="a", server_port=80, status=200, duration_s=0.1)
    prefix = f"{namespace}_" if namespace else ""
    labels = {
        "http_request_method": "GET",
        "server_address": "a",
        "server_port": "80",
        "http_response_status_code": "200",
        "url_scheme": "",
        "error_type": "",
    }
    assert registry.get_sample_value(f"{prefix}http_client_request_duration_seconds_count", labels) == 2


def test_namespaces_on_one_registry_do_not_clash(registry: CollectorRegistry) -> None:
    PrometheusMetrics(registry)
    PrometheusMetrics(registry, namespace="other")
    names = {family.name for family in registry.collect()}
    assert {"http_server_request_duration_seconds", "other_http_server_request_duration_seconds"} <= names
    assert {"c13_spans_exported", "other_c13_spans_exported"} <= names


def test_clash_with_a_user_metric_is_explained_and_rolled_back(registry: CollectorRegistry) -> None:
    from prometheus_client import Gauge

    Gauge("http_server_active_requests", "the user's own", registry=registry)
    with pytest.raises(ValueError, match="namespace="):
        PrometheusMetrics(registry)
    assert {family.name for family in registry.collect()} == {"http_server_active_requests"}
    PrometheusMetrics(registry, namespace="c13")  # a namespace avoids the clash


def test_default_registry_is_the_global_one() -> None:
    from prometheus_client import REGISTRY

    metrics = PrometheusMetrics()
    assert metrics.registry is REGISTRY and PrometheusMetrics().registry is REGISTRY
    assert repr(metrics) == "PrometheusMetrics(namespace='')"
