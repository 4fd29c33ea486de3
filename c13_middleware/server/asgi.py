"""Pure ASGI middleware: one SERVER span per HTTP request or websocket connection; lifespan passes through, and the
queued spans are exported when the app has shut down."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from ..trace._safety import log_once
from ..trace._shutdown import flush
from ..trace._span import Span
from ._core import ServerCore, ServerRequest
from ._head import RequestHead, new_head
from ._request import number

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


def _decode_items(headers: Iterable[tuple[bytes, bytes]]) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]


def _close_code(span: Span, value: object) -> None:
    """The first close code seen (either side); one that is not a number of at most 4 digits is absent."""
    code = number(value, 4)
    if code is not None and "websocket.close.code" not in span.attributes:
        span.set_attribute("websocket.close.code", code)


class C13ASGIMiddleware:
    """``app = C13ASGIMiddleware(app, **options)``. Framework adapters subclass it to name the route."""

    env_names: tuple[str, ...] = ()  # NAME in OTEL_PYTHON_{NAME}_EXCLUDED_URLS (see ServerCore)

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        self.app = app
        self.core = ServerCore(options, self.env_names)
        fields = self.core.request_fields
        self._fields = tuple((name.encode("latin-1"), name) for name in fields)
        self._field_set = frozenset(name.encode("latin-1") for name in fields)
        self._server_timing = self.core.config.server_timing_trace
        self._capture_response = bool(self.core.config.capture_response_headers)

    def route_for(self, scope: Scope) -> str | None:
        """The matched route template; the generic middleware knows none."""
        return None

    def _start(self, scope: Scope) -> ServerRequest | None:
        headers = scope.get("headers") or ()
        # One C-level pass builds a lookup of the headers (names are lower-case bytes in ASGI). A repeated name
        # (two traceparent fields must be seen as two) shows as a size difference: then the slower exact pass.
        lookup: dict[bytes, bytes] = dict(headers)
        found: dict[str, list[str]] | None = None
        host: bytes | None
        user_agent: bytes | None
        if len(lookup) == len(headers):
            host = lookup.get(b"host")
            user_agent = lookup.get(b"user-agent")
            for field, field_name in self._fields:
                value = lookup.get(field)
                if value is not None:
                    if found is None:
                        found = {}
                    found[field_name] = [value.decode("latin-1")]
        else:
            host = user_agent = None
            for name, value in headers:
                if name == b"host":
                    host = value
                elif name == b"user-agent":
                    user_agent = value
                elif name in self._field_set:
                    if found is None:
                        found = {}
                    found.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
        client = scope.get("client")
        server = scope.get("server")
        return self.core.start(
            new_head(
                RequestHead,
                (
                    scope.get("method", "GET"),
                    scope.get("path", "/"),
                    scope.get("scheme") or ("ws" if scope["type"] == "websocket" else "http"),
                    (scope.get("query_string") or b"").decode("latin-1"),
                    host.decode("latin-1") if host is not None else None,
                    user_agent.decode("latin-1") if user_agent is not None else None,
                    found,
                    scope.get("http_version"),
                    (server[0], server[1]) if server else None,
                    client[0] if client else None,
                    _decode_items(headers) if self.core.captures_request_headers else None,
                ),
            )
        )

    def _finish(self, request: ServerRequest, scope: Scope) -> None:
        if request.finished:
            return
        request.stop_profile()
        self._name_route(request, scope)
        request.finish()

    def _name_route(self, request: ServerRequest, scope: Scope) -> None:
        try:
            request.set_route(self.route_for(scope))
        except Exception:
            log_once("route-for", "c13_middleware: could not read the route template", exc_info=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, _flushing_at_shutdown(send) if kind == "lifespan" else send)
            return
        request = self._start(scope)
        if request is None:
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            await self._websocket(request, scope, receive, send)
            return

        held: list[Message] = []
        server_timing = self._server_timing
        capture_response = self._capture_response

        async def traced_send(message: Message) -> None:
            message_type = message["type"]
            if message_type == "http.response.start":
                if server_timing:
                    message = _with_headers(message, request.response_headers())
                request.response_started(
                    message.get("status"), _decode_items(message.get("headers") or []) if capture_response else None
                )
                if request.profile is not None:
                    held.append(message)  # the profile's headers are known only when the handler is done
                    return
                await send(message)
            elif message_type == "http.response.body":
                last = not message.get("more_body", False)
                if held:
                    # A one-chunk body means the handler's work is done: stop the profile and report it in the head.
                    # A streamed body gets its head now, without the figures; the profile runs to the last chunk.
                    # The router has matched by now: name the span first, so the report carries the route (the
                    # sampling stops before: naming is c13's work, not the request's).
                    if last:
                        request.stop_profile()
                    self._name_route(request, scope)
                    await send(_with_headers(held.pop(), request.profile_headers(streamed=not last)))
                if last:
                    try:
                        await send(message)
                    finally:
                        self._finish(request, scope)  # the last chunk is out: streaming responses are timed fully
                else:
                    await send(message)
            else:
                if held:  # another body form (http.response.pathsend, zerocopysend): the head goes first, as is
                    await send(_with_headers(held.pop(), request.profile_headers(streamed=True)))
                await send(message)

        request.activate()
        if request.profile_decision is not None:
            request.begin_profile(sys._getframe())
        try:
            await self.app(scope, receive, traced_send)
        except Exception as exc:
            request.failed(exc)  # with no response started, the server answers 500: the span says so
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
            if message["type"] == "websocket.disconnect":
                _close_code(span, message.get("code", 1005))
            return message

        async def traced_send(message: Message) -> None:
            message_type = message["type"]
            if message_type == "websocket.accept":
                request.response_started(101)
            elif message_type == "websocket.close":
                _close_code(span, message.get("code", 1000))
            elif message_type == "websocket.http.response.start":
                request.response_started(message.get("status"))
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


def _flushing_at_shutdown(send: Send) -> Send:
    """uvicorn re-raises SIGTERM once the app has shut down, so exit handlers never run: the spans still queued (the
    shutdown handlers' own included) are exported when the app reports its shutdown, within the process budget."""

    async def lifespan_send(message: Message) -> None:
        if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            try:
                flush()
            except Exception:
                log_once("lifespan-flush", "c13_middleware: exporting spans at shutdown failed", exc_info=True)
        await send(message)

    return lifespan_send
