from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient, Client, override_settings

import tests.django_app  # noqa: F401  (configures Django settings for this module)
from c13_middleware import ConfigError, InMemoryExporter, SpanKind, StatusCode
from c13_middleware.server.asgi import C13ASGIMiddleware

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def c13_settings(options: dict[str, Any]) -> Any:
    with override_settings(C13=options):
        yield options


def test_wsgi_route_from_resolver_and_trace_continued(c13_settings: Any, exporter: InMemoryExporter) -> None:
    response = Client().get("/items/7/", HTTP_TRACEPARENT=TRACEPARENT)
    assert response.content == b"item 7"
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /items/<int:item_id>/" and span.kind is SpanKind.SERVER
    assert span.attributes["http.route"] == "/items/<int:item_id>/"
    assert span.attributes["http.response.status_code"] == 200
    assert span.parent is not None and span.parent.span_id == 0xB7AD6B7169203331


def test_unmatched_path_is_named_by_method(c13_settings: Any, exporter: InMemoryExporter) -> None:
    assert Client().get("/nowhere/").status_code == 404
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET" and span.status.code is StatusCode.UNSET


def test_exception_via_process_exception(c13_settings: Any, exporter: InMemoryExporter) -> None:
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    (span,) = exporter.get_finished_spans()
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.events[0].attributes["exception.message"] == "kaboom"


def test_streaming_response_ends_after_last_chunk(c13_settings: Any, exporter: InMemoryExporter) -> None:
    response = Client().get("/stream/")
    assert exporter.get_finished_spans() == []  # body not consumed yet
    assert b"".join(response.streaming_content) == b"0\n1\n2\n"  # type: ignore[attr-defined]
    (span,) = exporter.get_finished_spans()
    assert (span.duration_ns or 0) >= 80_000_000


def test_asgi_async_view_and_async_streaming(c13_settings: Any, exporter: InMemoryExporter) -> None:
    async def main() -> tuple[Any, bytes]:
        client = AsyncClient()
        response = await client.get("/async/items/3/")
        streamed = await client.get("/async/stream/")
        body = b"".join([chunk async for chunk in streamed.streaming_content])
        return response, body

    response, body = asyncio.run(main())
    assert body == b"0\n1\n2\n"
    first, second = exporter.get_finished_spans()
    assert first.name == "GET /async/items/<int:item_id>/"
    assert response.json()["span"] == f"{first.context.span_id:016x}"
    assert second.name == "GET /async/stream/" and (second.duration_ns or 0) >= 80_000_000


def test_options_from_settings_are_validated(exporter: InMemoryExporter) -> None:
    with override_settings(C13={"servce_name": "x"}), pytest.raises(ConfigError, match="service_name"):
        Client().get("/items/1/")


def test_django_under_asgi_middleware_is_one_span(c13_settings: Any, exporter: InMemoryExporter) -> None:
    app = C13ASGIMiddleware(ASGIHandler(), **c13_settings)

    async def main() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/items/5/",
            "raw_path": b"/items/5/",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
        }
        messages = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            await asyncio.sleep(3600)
            return {}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    sent = asyncio.run(main())
    assert sent[0]["status"] == 200
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /items/<int:item_id>/"  # the outer ASGI span, named by Django's resolver


def test_an_exception_django_propagates_ends_the_span_as_a_failure(
    c13_settings: Any, exporter: InMemoryExporter
) -> None:
    async def async_call() -> None:
        await AsyncClient().get("/async/boom/")

    with override_settings(DEBUG_PROPAGATE_EXCEPTIONS=True):  # Django re-raises instead of answering 500
        with pytest.raises(RuntimeError, match="kaboom"):
            Client().get("/boom/")
        with pytest.raises(RuntimeError, match="async kaboom"):
            asyncio.run(async_call())
    sync, async_ = exporter.get_finished_spans()
    assert (sync.name, async_.name) == ("GET /boom/", "GET /async/boom/")
    for span, message in ((sync, "kaboom"), (async_, "async kaboom")):
        assert span.status.code is StatusCode.ERROR and span.attributes["error.type"] == "RuntimeError"
        assert [e.attributes["exception.message"] for e in span.events if e.name == "exception"] == [message]


def test_a_streamed_body_that_fails_midway_records_the_exception(c13_settings: Any, exporter: InMemoryExporter) -> None:
    response = Client().get("/stream/broken/")
    with pytest.raises(OSError, match="disk went away"):
        b"".join(response.streaming_content)  # type: ignore[attr-defined]

    async def async_body() -> None:
        streamed = await AsyncClient().get("/async/stream/broken/")
        async for _ in streamed.streaming_content:  # type: ignore[attr-defined]
            pass

    with pytest.raises(OSError, match="disk went away"):
        asyncio.run(async_body())
    sync, async_ = exporter.get_finished_spans()
    for span in (sync, async_):
        assert span.attributes["http.response.status_code"] == 200  # the status line was already sent
        (event,) = [e for e in span.events if e.name == "exception"]
        assert event.attributes["exception.type"] == "OSError"
        assert span.end_time is not None
