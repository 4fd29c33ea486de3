"""A tiny Django project for the adapter tests (settings configured on import)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="test-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["c13_middleware.integrations.django.C13Middleware"],
        INSTALLED_APPS=["tests.integrations.django_shop.apps.ShopConfig"],
        # A shared in-memory SQLite database: every thread's connection (async views run queries in threads) sees
        # the same tables while one connection keeps it open (tests/integrations/test_django_db.py).
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "file:c13tests?mode=memory&cache=shared"}
        },
        USE_TZ=True,
        C13={},
    )
    django.setup()

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import include, path

from c13_middleware import current_span


def item(request: HttpRequest, item_id: int) -> HttpResponse:
    return HttpResponse(f"item {item_id}")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("kaboom")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        import time

        for i in range(3):
            time.sleep(0.03)
            yield f"{i}\n".encode()

    return StreamingHttpResponse(chunks())


async def async_item(request: HttpRequest, item_id: int) -> HttpResponse:
    await asyncio.sleep(0)
    span = current_span()
    return JsonResponse({"id": item_id, "span": f"{span.context.span_id:016x}" if span else None})


async def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            await asyncio.sleep(0.03)
            yield f"{i}\n".encode()

    return StreamingHttpResponse(chunks())


async def async_boom(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    raise RuntimeError("async kaboom")


def broken_stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"first\n"
        raise OSError("disk went away")

    return StreamingHttpResponse(chunks())


async def async_broken_stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first\n"
        raise OSError("disk went away")

    return StreamingHttpResponse(chunks())


urlpatterns = [
    path("shop/", include("tests.integrations.django_shop.views")),
    path("items/<int:item_id>/", item),
    path("boom/", boom),
    path("stream/", stream),
    path("async/items/<int:item_id>/", async_item),
    path("async/stream/", async_stream),
    path("async/boom/", async_boom),
    path("stream/broken/", broken_stream),
    path("async/stream/broken/", async_broken_stream),
]
