"""Django: add ``"c13_middleware.integrations.django.C13Middleware"`` first in ``MIDDLEWARE``; options come from
``settings.C13`` (a dict). Works under WSGI and ASGI, with sync and async views."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from c13_middleware.server._core import ServerCore, ServerRequest, active_server_request
from c13_middleware.server.wsgi import start_from_environ

from ._django_db import install_database_spans
from ._require import require

require("django", "django")

from asgiref.sync import iscoroutinefunction, markcoroutinefunction  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http import HttpRequest, HttpResponseBase  # noqa: E402

__all__ = ["C13Middleware"]


class C13Middleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        self.core = ServerCore(dict(getattr(settings, "C13", {}) or {}), ("DJANGO",))
        install_database_spans(getattr(settings, "C13_DATABASES", None))

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        traced = start_from_environ(self.core, request.META, request.path)
        if traced is None:
            return self.get_response(request)
        traced.activate()
        if traced.profile_decision is not None:
            traced.begin_profile(sys._getframe())
        try:
            response = self.get_response(request)
        except Exception as exc:
            _fail(traced, exc)
            raise
        finally:
            traced.deactivate()
        return _respond(traced, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        traced = start_from_environ(self.core, request.META, request.path)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        if traced is None:
            return await get_response(request)
        traced.activate()
        if traced.profile_decision is not None:
            traced.begin_profile(sys._getframe())
        try:
            response = await get_response(request)
        except Exception as exc:
            _fail(traced, exc)
            raise
        finally:
            traced.deactivate()
        return _respond(traced, response)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> None:
        traced = active_server_request()
        match = request.resolver_match
        if traced is not None and match is not None and match.route:
            route = match.route
            traced.set_route(route if route.startswith("/") else "/" + route)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        traced = active_server_request()
        if traced is not None:
            # Django turns it into a response (Http404 a 404, PermissionDenied a 403, others a 500): that response's
            # status decides whether it is recorded (docs/server.md, "Exceptions").
            traced.record_exception(exception, escaped=False)


def _fail(traced: ServerRequest, exc: BaseException) -> None:
    traced.failed(exc)
    traced.finish()


def _respond(traced: ServerRequest, response: HttpResponseBase) -> HttpResponseBase:
    traced.response_started(response.status_code, response.items)
    extra = traced.profile_headers(streamed=bool(getattr(response, "streaming", False)))
    for name, value in [*traced.response_headers(), *extra]:
        response[name] = f"{response[name]}, {value}" if response.has_header(name) else value
    if getattr(response, "streaming", False):
        content = response.streaming_content
        if getattr(response, "is_async", False):
            response.streaming_content = _async_chunks(content, traced)
        else:
            response.streaming_content = _chunks(content, traced)
    else:
        traced.finish()
    return response


def _chunks(content: Iterator[bytes], traced: ServerRequest) -> Iterator[bytes]:
    try:
        yield from content
    except Exception as exc:
        traced.record_exception(exc)
        raise
    finally:
        traced.finish()  # after the last chunk, or when the server closes the response early


async def _async_chunks(content: AsyncIterator[bytes], traced: ServerRequest) -> AsyncIterator[bytes]:
    try:
        async for chunk in content:
            yield chunk
    except Exception as exc:
        traced.record_exception(exc)
        raise
    finally:
        traced.finish()
