"""Pure ASGI middleware: one SERVER span per HTTP request or websocket connection; lifespan passes through."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._http_server import ServerCore, ServerRequest
from ._safety import log_once

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _with_headers(message: Message, extra: list[tuple[str, str]]) -> Message:
    if not extra:
        return message
    message = dict(message)
    message["headers"] = [*message.get("headers", ()), *((n.encode("latin-1"), v.encode("latin-1")) for n, v in extra)]
    return message


def _decode_items(headers: list[tuple[bytes, bytes]]) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]


class C13ASGIMiddleware:
    """``app = C13ASGIMiddleware(app, **options)``. Framework adapters subclass it to name the route."""

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        self.app = app
        self.core = ServerCore(options)
        self._propagation_fields = frozenset(name.encode("latin-1") for name in self.core.request_fields)

    def route_for(self, scope: Scope) -> str | None:
        """The matched route template; the generic middleware knows none."""
        return None

    def _start(self, scope: Scope) -> ServerRequest | None:
        headers = scope.get("headers") or ()
        host = user_agent = None
        found: dict[str, list[str]] | None = None
        # One pass over the headers for everything the span needs; header names are lower-case bytes in ASGI.
        for name, value in headers:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name in self._propagation_fields:
                if found is None:
                    found = {}
                found.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
        client = scope.get("client")
        server = scope.get("server")
        return self.core.start(
            scope.get("method", "GET"),
            scope.get("path", "/"),
            scope.get("scheme") or ("ws" if scope["type"] == "websocket" else "http"),
            (scope.get("query_string") or b"").decode("latin-1"),
            host,
            user_agent,
            found,
            scope.get("http_version"),
            (server[0], server[1]) if server else None,
            client[0] if client else None,
            _decode_items(headers) if self.core.captures_request_headers else None,  # type: ignore[arg-type]
        )

    def _finish(self, request: ServerRequest, scope: Scope) -> None:
        if request.finished:
            return
        try:
            request.set_route(self.route_for(scope))
        except Exception:
            log_once("route-for", "c13_middleware: could not read the route template", exc_info=True)
        request.finish()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        request = self._start(scope)
        if request is None:
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            await self._websocket(request, scope, receive, send)
            return

        held: list[Message] = []

        async def traced_send(message: Message) -> None:
            message_type = message["type"]
            if message_type == "http.response.start":
                message = _with_headers(message, request.response_headers())
                request.response_started(message["status"], _decode_items(message.get("headers") or []))
                if request.profile is not None:
                    held.append(message)  # the profile's headers are known only when the handler is done
                    return
                await send(message)
            elif message_type == "http.response.body":
                last = not message.get("more_body", False)
                if held:
                    # A one-chunk body means the handler's work is done: stop the profile and report it in the head.
                    # A streamed body gets its head now, without the figures; the profile runs to the last chunk.
                    profile = request.profile
                    extra = request.finish_profile() if last or profile is None else profile.early_headers()
                    await send(_with_headers(held.pop(), extra))
                if last:
                    try:
                        await send(message)
                    finally:
                        self._finish(request, scope)  # the last chunk is out: streaming responses are timed fully
                else:
                    await send(message)
            else:
                await send(message)

        request.activate()
        if request.profile_decision is not None:
            request.begin_profile(sys._getframe())
        try:
            await self.app(scope, receive, traced_send)
        except Exception as exc:
            request.record_exception(exc)
            raise
        except asyncio.CancelledError:
            request.span.set_attribute("c13.request.cancelled", True)
            raise
        finally:
            request.deactivate()
            self._finish(request, scope)

    async def _websocket(self, request: ServerRequest, scope: Scope, receive: Receive, send: Send) -> None:
        """One span for the whole connection, with the close code (from whichever side closed first)."""
        span = request.span

        async def traced_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and "websocket.close.code" not in span.attributes:
                span.set_attribute("websocket.close.code", int(message.get("code", 1005)))
            return message

        async def traced_send(message: Message) -> None:
            message_type = message["type"]
            if message_type == "websocket.accept":
                request.response_started(101)
            elif message_type == "websocket.close" and "websocket.close.code" not in span.attributes:
                span.set_attribute("websocket.close.code", int(message.get("code", 1000)))
            elif message_type == "websocket.http.response.start":
                request.response_started(message["status"])
            await send(message)

        request.activate()
        try:
            await self.app(scope, traced_receive, traced_send)
        except Exception as exc:
            request.record_exception(exc)
            raise
        finally:
            request.deactivate()
            self._finish(request, scope)
