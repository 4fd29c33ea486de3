"""The accounts service: a one-file Django project.

Run under uvicorn (ASGI): ``uvicorn example_apps.accounts:application --port 8002``, or under Django's own server:
``python -m example_apps.accounts runserver 127.0.0.1:8002``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import django
from django.conf import settings

from example_apps.telemetry import setup

tracer = setup("accounts")

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="demo-only-not-secret",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["c13_middleware.integrations.django.C13Middleware"],
        INSTALLED_APPS=[],
        DATABASES={},
        C13={"exclude_paths": ["/healthz/"]},
    )
    django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

ACCOUNTS = {1: "alice", 2: "bob"}


async def account(request: HttpRequest, user_id: int) -> JsonResponse:
    with tracer.start_as_current_span("load account") as span:
        span.set_attribute("account.id", user_id)
        await asyncio.sleep(0.01)
        return JsonResponse({"id": user_id, "name": ACCOUNTS.get(user_id, "unknown")})


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    async def rows() -> AsyncIterator[bytes]:
        for user_id, name in ACCOUNTS.items():
            await asyncio.sleep(0.05)
            yield f"{user_id},{name}\n".encode()

    return StreamingHttpResponse(rows(), content_type="text/csv")


async def slow(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0.3)
    return HttpResponse("slow\n")


def fail(request: HttpRequest) -> HttpResponse:  # a sync view: Django runs it in a thread
    raise RuntimeError("the accounts service failed on purpose")


urlpatterns = [
    path("accounts/<int:user_id>/", account),
    path("stream/", stream),
    path("slow/", slow),
    path("fail/", fail),
]

application = get_asgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
