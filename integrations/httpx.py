"""httpx clients: a CLIENT span per request and W3C context in its headers.

``httpx.Client(transport=C13Transport(**options))`` / ``httpx.AsyncClient(transport=AsyncC13Transport(**options))``
wrap any inner transport (default ``httpx.HTTPTransport()`` / ``httpx.AsyncHTTPTransport()``). ``instrument()``
covers every client built afterwards. The span ends when the response body is closed (see docs/outgoing.md).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from c13_middleware.client._core import HttpClientCall, Pipeline, inject_context
from c13_middleware.trace._context import _suppressed
from c13_middleware.trace._safety import log_once
from c13_middleware.trace._semconv import default_port

from ._require import require

require("httpx", "httpx")

import httpx  # noqa: E402

__all__ = ["AsyncC13Transport", "C13Transport", "instrument", "is_instrumented", "uninstrument"]

# request.extensions key: the header values this transport set. A redirect hop copies the previous request's
# headers and extensions, so a hop to a destination outside ``propagate_to`` can remove exactly those values.
_INJECTED = "c13.propagated"
_ABANDONED = "c13.http.response.abandoned"


def _begin(pipeline: Pipeline, request: httpx.Request) -> HttpClientCall | None:
    """Start the CLIENT span and inject context; None (and the request goes out untouched) on failure."""
    try:
        tracer, settings = pipeline.resolve()
        url = request.url
        raw = str(url)
        host = url.host
        port = url.port or default_port(url.scheme)
        call = HttpClientCall.start(tracer, settings, request.method, settings.redact_url(raw), host, port, url.scheme)
    except Exception:
        log_once("httpx-start", "c13_middleware: could not start an httpx request span", exc_info=True)
        return None
    try:
        headers = request.headers
        extensions = request.extensions
        if settings.propagates_to(host, port, raw):
            sent: dict[str, str] = {}

            def set_header(name: str, value: str) -> None:
                headers[name] = value
                sent[name] = value

            inject_context(set_header, call.span, settings, host, port, raw)
            extensions[_INJECTED] = sent
        else:
            previous = extensions.pop(_INJECTED, None)
            if previous:
                for name, value in previous.items():
                    if headers.get(name) == value:
                        del headers[name]
    except Exception:
        log_once("httpx-inject", "c13_middleware: could not add trace headers to an httpx request", exc_info=True)
    return call


def _protocol(response: httpx.Response) -> str | None:
    version = response.extensions.get("http_version")
    if isinstance(version, bytes) and version.startswith(b"HTTP/"):
        return version[5:].decode("ascii", "replace")
    return None


def _responded(call: HttpClientCall, response: httpx.Response, *, sync: bool) -> httpx.Response:
    try:
        call.response(response.status_code, _protocol(response))
        if response.is_closed:  # the inner transport already read and closed the body (MockTransport content=)
            call.finish()
        elif sync:
            response.stream = _TracedStream(response.stream, call)  # type: ignore[arg-type]
        else:
            response.stream = _AsyncTracedStream(response.stream, call)  # type: ignore[arg-type]
    except Exception:
        log_once("httpx-response", "c13_middleware: could not follow an httpx response", exc_info=True)
        call.finish()
    return response


class _EndsWithBody:
    """What both response-body wrappers share: the call they end, also when garbage-collected unclosed."""

    _call: HttpClientCall

    def __del__(self) -> None:
        call = getattr(self, "_call", None)
        if call is not None and not call.finished:
            call.finish(**{_ABANDONED: True})


class _TracedStream(_EndsWithBody, httpx.SyncByteStream):
    """The response body: ends the span on close (httpx closes after a full read), on a read error, or when the
    response is garbage-collected unclosed (then with ``c13.http.response.abandoned=true``)."""

    def __init__(self, stream: httpx.SyncByteStream, call: HttpClientCall) -> None:
        self._stream = stream
        self._call = call

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except Exception as exc:
            self._call.finish(exc)
            raise

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._call.finish()


class _AsyncTracedStream(_EndsWithBody, httpx.AsyncByteStream):
    """As ``_TracedStream``; a cancelled read also ends the span (``error.type`` = the cancellation's class)."""

    def __init__(self, stream: httpx.AsyncByteStream, call: HttpClientCall) -> None:
        self._stream = stream
        self._call = call

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except (Exception, asyncio.CancelledError) as exc:
            self._call.finish(exc)
            raise

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._call.finish()


_T = TypeVar("_T", bound="_Sharing")


class _Sharing:
    """What both transports share: ``instrument()`` builds them around a client's transports with one pipeline."""

    wrapped: Any
    _pipeline: Pipeline

    @classmethod
    def _sharing(cls: type[_T], wrapped: Any, pipeline: Pipeline) -> _T:
        transport = cls.__new__(cls)
        transport.wrapped = wrapped
        transport._pipeline = pipeline
        return transport


class C13Transport(_Sharing, httpx.BaseTransport):
    """Wraps ``wrapped`` (default ``httpx.HTTPTransport()``). ``options`` are c13 options (``configure``'s)."""

    wrapped: httpx.BaseTransport

    def __init__(self, wrapped: httpx.BaseTransport | None = None, **options: Any) -> None:
        self.wrapped = wrapped if wrapped is not None else httpx.HTTPTransport()
        self._pipeline = Pipeline(options)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if _suppressed.get():
            return self.wrapped.handle_request(request)
        call = _begin(self._pipeline, request)
        if call is None:
            return self.wrapped.handle_request(request)
        try:
            response = self.wrapped.handle_request(request)
        except BaseException as exc:
            call.finish(exc)
            raise
        return _responded(call, response, sync=True)

    def close(self) -> None:
        self.wrapped.close()


class AsyncC13Transport(_Sharing, httpx.AsyncBaseTransport):
    """Wraps ``wrapped`` (default ``httpx.AsyncHTTPTransport()``). ``options`` are c13 options."""

    wrapped: httpx.AsyncBaseTransport

    def __init__(self, wrapped: httpx.AsyncBaseTransport | None = None, **options: Any) -> None:
        self.wrapped = wrapped if wrapped is not None else httpx.AsyncHTTPTransport()
        self._pipeline = Pipeline(options)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if _suppressed.get():
            return await self.wrapped.handle_async_request(request)
        call = _begin(self._pipeline, request)
        if call is None:
            return await self.wrapped.handle_async_request(request)
        try:
            response = await self.wrapped.handle_async_request(request)
        except BaseException as exc:
            call.finish(exc)
            raise
        return _responded(call, response, sync=False)

    async def aclose(self) -> None:
        await self.wrapped.aclose()


# --- instrument() -----------------------------------------------------------------------------------------------
# httpx has no hook that runs for every client, and no public setter for a client's transports. instrument()
# therefore replaces one function per client class, ``httpx.Client.__init__`` and ``httpx.AsyncClient.__init__``:
# the original constructor runs unchanged, then the transports it built (``_transport`` and the ``_mounts``
# values, proxies included) are wrapped, unless they already are c13 transports. Requests are never patched.

_lock = threading.Lock()
_patch: _InitPatch | None = None


class _InitPatch:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.active = True
        self.originals: dict[type, Callable[..., None]] = {}
        self.wrappers: dict[type, Callable[..., None]] = {}

    def install(self) -> None:
        for cls, transport_cls in ((httpx.Client, C13Transport), (httpx.AsyncClient, AsyncC13Transport)):
            original = cls.__dict__["__init__"]
            wrapper = self._wrapper(original, transport_cls)
            self.originals[cls] = original
            self.wrappers[cls] = wrapper
            setattr(cls, "__init__", wrapper)  # noqa: B010 (mypy forbids assigning to a method)

    def remove(self) -> None:
        self.active = False
        for cls, wrapper in self.wrappers.items():
            if cls.__dict__.get("__init__") is wrapper:
                setattr(cls, "__init__", self.originals[cls])  # noqa: B010
            # else: someone wrapped __init__ after us; ours stays in their chain but does nothing now.

    def _wrapper(self, original: Callable[..., None], transport_cls: Any) -> Callable[..., None]:
        patch = self

        @functools.wraps(original)
        def __init__(client: Any, *args: Any, **kwargs: Any) -> None:
            original(client, *args, **kwargs)
            if patch.active:
                _wrap_client(client, transport_cls, patch.pipeline)

        return __init__


def _wrap_client(client: Any, transport_cls: Any, pipeline: Pipeline) -> None:
    try:
        ours = (C13Transport, AsyncC13Transport)
        if not isinstance(client._transport, ours):
            client._transport = transport_cls._sharing(client._transport, pipeline)
        mounts = client._mounts
        for pattern, mounted in list(mounts.items()):
            if mounted is not None and not isinstance(mounted, ours):
                mounts[pattern] = transport_cls._sharing(mounted, pipeline)
    except Exception:
        log_once("httpx-instrument", "c13_middleware: could not wrap an httpx client's transports", exc_info=True)


def instrument(**options: Any) -> None:
    """Trace every ``httpx.Client`` / ``httpx.AsyncClient`` built from now on (also ``httpx.get`` and friends).

    Idempotent: a second call only replaces the options used for clients built afterwards. Clients built before,
    and clients whose transport is already a c13 transport, are left as they are. ``uninstrument()`` reverses it.
    """
    pipeline = Pipeline(options)  # a wrong option fails here
    global _patch
    with _lock:
        if _patch is not None:
            _patch.pipeline = pipeline
            return
        patch = _InitPatch(pipeline)
        patch.install()
        _patch = patch


def uninstrument() -> None:
    """Stop wrapping new clients; clients built while instrumented keep tracing. Safe to call at any time."""
    global _patch
    with _lock:
        patch, _patch = _patch, None
        if patch is not None:
            patch.remove()


def is_instrumented() -> bool:
    return _patch is not None
