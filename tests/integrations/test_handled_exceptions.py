"""One rule on Django, Flask and Starlette/FastAPI: an exception the framework turns into a 4xx response is not an
``exception`` event and not an error; one turned into a 5xx, or escaping, is recorded once (docs/server.md)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path
from flask import Flask, abort
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

import tests.django_app  # noqa: F401  (configures Django settings)
from c13_middleware import InMemoryExporter, Span, StatusCode
from c13_middleware.integrations.flask import C13
from tests.conftest import traced_starlette


class Teapot(Exception):
    pass


def assert_not_recorded(span: Span, status: int) -> None:
    assert span.attributes["http.response.status_code"] == status
    assert not span.events and span.status.code is StatusCode.UNSET and "error.type" not in span.attributes


def assert_recorded_once(span: Span, status: int, error_type: str) -> None:
    assert span.attributes["http.response.status_code"] == status
    assert [event.name for event in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"] == error_type
    assert span.status.code is StatusCode.ERROR and span.attributes["error.type"] == error_type


# Django -------------------------------------------------------------------------------------------------------------


def not_found(request: HttpRequest) -> HttpResponse:
    raise Http404("no such thing")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def broken(request: HttpRequest) -> HttpResponse:
    raise KeyError("k")


urlpatterns = [path("missing/", not_found), path("forbidden/", forbidden), path("broken/", broken)]


@pytest.fixture
def django_client(options: dict[str, Any]) -> Any:
    with override_settings(C13=options, ROOT_URLCONF=__name__):
        yield Client(raise_request_exception=False)


@pytest.mark.parametrize(("url", "status"), [("/missing/", 404), ("/forbidden/", 403)])
def test_django_4xx_exception_is_not_recorded(
    django_client: Any, exporter: InMemoryExporter, url: str, status: int
) -> None:
    assert django_client.get(url).status_code == status
    (span,) = exporter.get_finished_spans()
    assert_not_recorded(span, status)


def test_django_5xx_exception_is_recorded_once(django_client: Any, exporter: InMemoryExporter) -> None:
    assert django_client.get("/broken/").status_code == 500
    (span,) = exporter.get_finished_spans()
    assert_recorded_once(span, 500, "KeyError")


# Flask --------------------------------------------------------------------------------------------------------------


def flask_app(options: dict[str, Any]) -> Flask:
    app = Flask(__name__)

    @app.route("/missing")
    def missing() -> str:
        abort(404)

    @app.route("/teapot")
    def teapot() -> str:
        raise Teapot("short and stout")

    @app.route("/unavailable")
    def unavailable() -> str:
        raise LookupError("down")

    @app.route("/broken")
    def broken() -> str:
        raise RuntimeError("unhandled")

    @app.errorhandler(Teapot)
    def on_teapot(exc: Teapot) -> tuple[str, int]:
        return "teapot", 418

    @app.errorhandler(LookupError)
    def on_lookup(exc: LookupError) -> tuple[str, int]:
        return "unavailable", 503

    C13(app, **options)
    return app


@pytest.mark.parametrize(("url", "status"), [("/missing", 404), ("/teapot", 418)])
def test_flask_4xx_exception_is_not_recorded(
    options: dict[str, Any], exporter: InMemoryExporter, url: str, status: int
) -> None:
    with flask_app(options).test_client().get(url) as response:
        assert response.status_code == status
    (span,) = exporter.get_finished_spans()
    assert_not_recorded(span, status)


@pytest.mark.parametrize(
    ("url", "status", "error_type"), [("/unavailable", 503, "LookupError"), ("/broken", 500, "RuntimeError")]
)
def test_flask_5xx_exception_is_recorded_once(
    options: dict[str, Any], exporter: InMemoryExporter, url: str, status: int, error_type: str
) -> None:
    with flask_app(options).test_client().get(url) as response:
        assert response.status_code == status
    (span,) = exporter.get_finished_spans()
    assert_recorded_once(span, status, error_type)


# Starlette / FastAPI ------------------------------------------------------------------------------------------------


async def raise_404(request: Request) -> Response:
    raise HTTPException(404, "no such thing")


async def raise_key_error(request: Request) -> Response:
    raise KeyError("k")


def test_starlette_http_exception_4xx_is_not_recorded(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = traced_starlette([Route("/missing", raise_404)], **options)
    assert TestClient(app).get("/missing").status_code == 404
    (span,) = exporter.get_finished_spans()
    assert_not_recorded(span, 404)


def test_starlette_escaping_exception_is_recorded_once(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    app = traced_starlette([Route("/broken", raise_key_error)], **options)
    assert TestClient(app, raise_server_exceptions=False).get("/broken").status_code == 500
    (span,) = exporter.get_finished_spans()
    assert_recorded_once(span, 500, "KeyError")


def test_fastapi_escaping_exception_is_recorded_once(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    from fastapi import FastAPI, HTTPException as FastAPIHTTPException

    from c13_middleware.integrations.starlette import C13Middleware

    app = FastAPI()

    @app.get("/missing")
    async def missing() -> None:
        raise FastAPIHTTPException(404)

    @app.get("/broken")
    async def broken() -> None:
        raise KeyError("k")

    app.add_middleware(C13Middleware, **options)
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/missing").status_code == 404
    assert client.get("/broken").status_code == 500
    missing_span, broken_span = exporter.get_finished_spans()
    assert_not_recorded(missing_span, 404)
    assert_recorded_once(broken_span, 500, "KeyError")
