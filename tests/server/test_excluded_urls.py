"""OpenTelemetry's excluded-URL variables: ``OTEL_PYTHON_EXCLUDED_URLS`` and the framework's own
``OTEL_PYTHON_{FLASK,DJANGO,FASTAPI,STARLETTE}_EXCLUDED_URLS``, regexes searched in the full request URL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client, override_settings
from fastapi import FastAPI
from flask import Flask
from starlette.testclient import TestClient

import tests.django_app  # noqa: F401  (configures Django settings for this module)
from c13_middleware import C13ASGIMiddleware, ConfigError, InMemoryExporter, configure
from c13_middleware.integrations.flask import C13
from c13_middleware.integrations.starlette import C13Middleware
from c13_middleware.trace._config import Config


def flask_app(**options: Any) -> Flask:
    app = Flask(__name__)

    @app.get("/<path:anything>")
    def anything(anything: str) -> str:
        return anything

    C13(app, **options)
    return app


def fastapi_app(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/{anything:path}")
    async def anything(anything: str) -> str:
        return anything

    app.add_middleware(C13Middleware, **options)
    return app


def traced(exporter: InMemoryExporter) -> list[str]:
    return sorted(str(span.attributes["url.path"]) for span in exporter.get_finished_spans())


def test_flask_variable_is_searched_in_the_full_url(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_FLASK_EXCLUDED_URLS", r"healthz, ^http://localhost/internal/, token=")
    client = flask_app(**options).test_client()
    for path in ("/healthz", "/internal/stats", "/orders?token=x", "/orders", "/public/internal/x"):
        with client.get(path) as response:  # closing the response closes the WSGI body: the span ends
            assert response.status_code == 200
    assert traced(exporter) == ["/orders", "/public/internal/x"]


def test_framework_variable_wins_over_the_generic_one(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "generic")
    configure(**options)  # the process default reads the generic variable
    monkeypatch.setenv("OTEL_PYTHON_FLASK_EXCLUDED_URLS", "flaskonly")
    client = flask_app().test_client()
    for path in ("/generic", "/flaskonly"):
        client.get(path).close()
    assert traced(exporter) == ["/generic"]


def test_generic_variable_applies_without_a_framework_one(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "/health$")
    configure(**options)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    client = TestClient(C13ASGIMiddleware(app))
    for path in ("/health", "/healthy", "/x/health"):
        client.get(path)
    assert traced(exporter) == ["/healthy"]


def test_an_exclude_urls_option_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "alpha")
    client = TestClient(fastapi_app(exclude_urls=[re.compile("beta")], **options))
    client.get("/alpha")
    client.get("/beta")
    assert traced(exporter) == ["/alpha"]


@pytest.mark.parametrize("name", ["FASTAPI", "STARLETTE"])
def test_fastapi_and_starlette_variables(
    name: str, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    monkeypatch.setenv(f"OTEL_PYTHON_{name}_EXCLUDED_URLS", "^http://testserver/ready$")
    client = TestClient(fastapi_app(**options))
    client.get("/ready")
    client.get("/readyish/not-at-root/ready")
    assert traced(exporter) == ["/readyish/not-at-root/ready"]


def test_django_variable(monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], exporter: InMemoryExporter) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", r"^http://testserver/items/\d+/$")
    with override_settings(C13=options):
        client = Client()
        client.get("/items/7/")
        client.get("/items/8/", HTTP_HOST="example.com")
        client.get("/async/items/3/")
    assert traced(exporter) == ["/async/items/3/", "/items/8/"]


def test_url_is_built_from_the_server_address_without_a_host_header(
    options: dict[str, Any], exporter: InMemoryExporter
) -> None:
    from c13_middleware.server._core import RequestHead, ServerCore

    core = ServerCore({**options, "exclude_urls": [r"^http://\[::1\]:8080/x$", r"^https://10\.0\.0\.1/y$"]})
    assert core.start(RequestHead("GET", "/x", "http", "", server=("::1", 8080))) is None
    assert core.start(RequestHead("GET", "/y", "https", "", server=("10.0.0.1", None))) is None
    assert core.start(RequestHead("GET", "/y", "https", "", server=("10.0.0.1", 443))) is None  # default port
    request = core.start(RequestHead("GET", "/x", "http", "a=1", server=("::1", 8080)))
    assert request is not None
    request.finish()
    odd = core.start(RequestHead("GET", "/z", "http", "", server=(b"bytes-host", 80)))  # type: ignore[arg-type]
    assert odd is not None  # traced, not failed
    odd.finish()
    assert traced(exporter) == ["/x", "/z"]


def test_bad_patterns_fail_at_start_up(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # An environment value only warns (docs/configuration.md): the app starts, nothing is excluded.
    monkeypatch.setenv("OTEL_PYTHON_FLASK_EXCLUDED_URLS", "ok,(unclosed")
    flask_app()
    assert any("OTEL_PYTHON_FLASK_EXCLUDED_URLS" in r.getMessage() for r in caplog.records)
    with pytest.raises(ConfigError, match="exclude_urls"):
        Config().replace(exclude_urls=[42])
    with pytest.raises(ConfigError, match="not a valid regex"):
        Config().replace(exclude_urls="(")
    assert Config().replace(exclude_urls="a").exclude_urls == (re.compile("a"),)
