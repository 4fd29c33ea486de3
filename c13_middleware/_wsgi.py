"""WSGI middleware: the span stays open while the server iterates the body and ends when it closes it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._http_server import ServerCore, ServerRequest
from ._propagation import environ_getter

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
    protocol = environ.get("SERVER_PROTOCOL", "")
    port = environ.get("SERVER_PORT")
    return core.start(
        method=environ.get("REQUEST_METHOD", "GET"),
        path=path if path is not None else (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/",
        scheme=environ.get("wsgi.url_scheme", "http"),
        query=environ.get("QUERY_STRING", ""),
        get_header=environ_getter(environ),
        protocol_version=protocol[5:] if protocol.startswith("HTTP/") else None,
        server=(environ.get("SERVER_NAME", ""), int(port) if port and port.isdigit() else None),
        client=environ.get("REMOTE_ADDR") or None,
        header_items=environ_items(environ),
    )


class _TracedBody:
    """Wraps the app's iterable: the span is current while each chunk is produced; it ends after the last chunk
    or on ``close()``, whichever comes first (a client that disconnects mid-body only gets the close)."""

    def __init__(self, body: Iterable[bytes], request: ServerRequest) -> None:
        self._body = body
        self._iterator: Iterator[bytes] | None = None
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = iter(self._body)
        request = self._request
        request.activate()
        try:
            return next(self._iterator)
        except StopIteration:
            # The last chunk is out. Servers also call close(), but test clients often do not.
            request.finish()
            raise
        except Exception as exc:
            request.record_exception(exc)
            raise
        finally:
            request.deactivate()

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._request.finish()


class C13WSGIMiddleware:
    """``app.wsgi_app = C13WSGIMiddleware(app.wsgi_app, **options)``."""

    def __init__(self, app: WSGIApplication, **options: Any) -> None:
        self.app = app
        self.core = ServerCore(options)

    def route_for(self, environ: WSGIEnvironment) -> str | None:
        return None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = start_from_environ(self.core, environ)
        if request is None:
            return self.app(environ, start_response)

        def traced_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            extra = request.response_headers()
            if extra:
                headers = [*headers, *extra]
            code = status[:3]
            request.response_started(int(code) if code.isdigit() else 0, lambda: headers)
            return start_response(status, headers, exc_info)

        request.activate()
        try:
            body = self.app(environ, traced_start_response)
        except Exception as exc:
            request.record_exception(exc)
            request.finish()
            raise
        finally:
            request.deactivate()
            request.set_route(self.route_for(environ))
        return _TracedBody(body, request)
