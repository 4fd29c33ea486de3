"""WSGI middleware: the span stays open while the server iterates the body and ends when it closes it."""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._core import ServerCore, ServerRequest
from ._head import RequestHead, new_head
from ._request import number

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def environ_items(environ: WSGIEnvironment) -> Callable[[], list[tuple[str, str]]]:
    def items() -> list[tuple[str, str]]:
        found = [
            (key[5:].replace("_", "-").lower(), value) for key, value in environ.items() if key.startswith("HTTP_")
        ]
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                found.append((key.replace("_", "-").lower(), environ[key]))
        return found

    return items


def start_from_environ(core: ServerCore, environ: WSGIEnvironment, path: str | None = None) -> ServerRequest | None:
    """Shared by the WSGI middleware and the Django adapter (whose ``request.META`` is a WSGI environ)."""
    propagation: dict[str, list[str]] | None = None
    for key, name in core.environ_fields:
        value = environ.get(key)
        if value is not None:
            # WSGI folds repeated fields into one comma-joined value: the same list per RFC 9110, and a
            # traceparent with a comma in it is invalid either way.
            if propagation is None:
                propagation = {}
            propagation[name] = [value]
    protocol = environ.get("SERVER_PROTOCOL", "")
    port = environ.get("SERVER_PORT")
    return core.start(
        new_head(
            RequestHead,
            (
                environ.get("REQUEST_METHOD", "GET"),
                path if path is not None else (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/",
                environ.get("wsgi.url_scheme", "http"),
                environ.get("QUERY_STRING", ""),
                environ.get("HTTP_HOST"),
                environ.get("HTTP_USER_AGENT"),
                propagation,
                protocol[5:] if protocol.startswith("HTTP/") else None,
                (environ.get("SERVER_NAME", ""), number(port, 5)),
                environ.get("REMOTE_ADDR") or None,
                environ_items(environ) if core.captures_request_headers else None,
            ),
        )
    )


def _status_code(status: object) -> int | None:
    """``"200 OK"`` → 200; a status line that does not start with three ASCII digits has no code."""
    if not isinstance(status, str) or len(status) < 3 or (len(status) > 3 and status[3] != " "):
        return None
    return number(status[:3], 3)


class _TracedBody:
    """Wraps the app's iterable. Each chunk is produced inside the request's context (so the span is current
    for streaming generators); the span ends after the last chunk or on ``close()``, whichever comes first
    (a client that disconnects mid-body only gets the close)."""

    __slots__ = ("_body", "_next", "_request", "_context")

    def __init__(self, body: Iterable[bytes], request: ServerRequest, context: contextvars.Context) -> None:
        self._body = body
        self._next: Callable[[], bytes] | None = None
        self._request = request
        self._context = context

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        step = self._next
        if step is None:
            step = self._next = iter(self._body).__next__
        try:
            return self._context.run(step)
        except StopIteration:
            # The last chunk is out. Servers also call close(), but test clients often do not.
            self._finish()
            raise
        except Exception as exc:
            self._request.record_exception(exc)
            raise

    def _finish(self) -> None:
        request = self._request
        if not request.finished:
            # No deactivate: the request's copied context is simply dropped.
            self._context.run(request.finish)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                self._context.run(close)
        finally:
            self._finish()


class C13WSGIMiddleware:
    """``app.wsgi_app = C13WSGIMiddleware(app.wsgi_app, **options)``."""

    env_names: tuple[str, ...] = ()  # NAME in OTEL_PYTHON_{NAME}_EXCLUDED_URLS (see ServerCore)

    def __init__(self, app: WSGIApplication, **options: Any) -> None:
        self.app = app
        self.core = ServerCore(options, self.env_names)

    def route_for(self, environ: WSGIEnvironment) -> str | None:
        return None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = start_from_environ(self.core, environ)
        if request is None:
            return self.app(environ, start_response)

        held: list[Any] = []
        calling = [True]  # a generator app calls start_response later, while the server iterates: never hold then

        def traced_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            extra = request.response_headers()
            if extra:
                headers = [*headers, *extra]
            request.response_started(_status_code(status), lambda: headers)
            if request.profile is not None and exc_info is None and not held:
                if not calling:  # a generator app, started by the server's first next(): its work is the stream
                    return start_response(status, [*headers, *request.profile_headers(streamed=True)])
                # A profiled response's head waits for the app to return, when the profile's headers are known
                # (servers send nothing before the first body chunk anyway); write() sends it at once.
                held.append((status, headers))

                def write(data: bytes) -> None:
                    _release_head()(data)

                return write
            return start_response(status, headers, exc_info)

        def _release_head(extra: list[tuple[str, str]] | None = None) -> Any:
            status, headers = held.pop()
            held.append(None)  # released
            return start_response(status, [*headers, *(extra or [])])

        # The request runs in a context of its own: nothing to reset afterwards, so nothing can leak into the
        # server thread's next request.
        context = contextvars.copy_context()
        context.run(request.activate)
        if request.profile_decision is not None:
            context.run(request.begin_profile, sys._getframe())
        try:
            body = context.run(self.app, environ, traced_start_response)
        except Exception as exc:
            request.failed(exc)  # with no response started, the server answers 500: the span says so
            context.run(request.finish)
            raise
        finally:
            calling.clear()
        request.set_route(self.route_for(environ))
        if held and held[-1] is not None:
            # A body that is not a list is produced while the server iterates it (a generator): the profile goes on
            # until its last chunk. Adapters that know better (Flask's ``is_streamed``) say so in ``streamed``.
            streamed = request.streamed
            if streamed is None:
                streamed = not isinstance(body, (list, tuple))
            _release_head(context.run(request.profile_headers, streamed))
        return _TracedBody(body, request, context)
