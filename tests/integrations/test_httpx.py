from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server

from c13_middleware import (
    Baggage,
    InMemoryExporter,
    Sampler,
    SamplingDecision,
    SamplingResult,
    Span,
    SpanContext,
    SpanKind,
    StatusCode,
    Tracer,
    TraceState,
    configure,
    suppress_instrumentation,
    use_baggage,
)
from c13_middleware.client._core import Pipeline
from c13_middleware.integrations.httpx import (
    AsyncC13Transport,
    C13Transport,
    instrument,
    is_instrumented,
    uninstrument,
)
from c13_middleware.propagation._traceparent import format_traceparent, parse_traceparent
from c13_middleware.server.wsgi import C13WSGIMiddleware

PROPAGATION_HEADERS = ("traceparent", "tracestate", "baggage")


# --- helpers ------------------------------------------------------------------------------------------------------


class Recorder:
    """A MockTransport handler that keeps the headers of every request it sees."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, content=b"ok")

    @property
    def headers(self) -> httpx.Headers:
        return self.requests[-1].headers


def mock_client(handler: Any = None, **options: Any) -> tuple[httpx.Client, Recorder]:
    recorder = handler if handler is not None else Recorder()
    return httpx.Client(transport=C13Transport(httpx.MockTransport(recorder), **options)), recorder


def client_spans(exporter: InMemoryExporter) -> list[Span]:
    return [span for span in exporter.get_finished_spans() if span.kind is SpanKind.CLIENT]


def parent_id_of(header: str) -> int:
    ctx = parse_traceparent([header])
    assert ctx is not None
    return ctx.span_id


@pytest.fixture(autouse=True)
def _not_instrumented() -> Iterator[None]:
    yield
    uninstrument()


# --- a real server on loopback --------------------------------------------------------------------------------------

STREAM_PAUSE = 0.3


class Server:
    def __init__(self) -> None:
        self.seen: list[dict[str, str | None]] = []
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self._server.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def app(self, environ: dict[str, Any], start_response: Any) -> Sequence[bytes] | Iterator[bytes]:
        path = environ["PATH_INFO"]
        seen = {name: environ.get("HTTP_" + name.upper()) for name in PROPAGATION_HEADERS}
        seen["path"] = path
        self.seen.append(seen)
        if path == "/stream":
            start_response("200 OK", [("Content-Type", "text/plain")])

            def body() -> Iterator[bytes]:
                yield b"first,"
                time.sleep(STREAM_PAUSE)
                yield b"second"

            return body()
        if path == "/redirect":
            start_response("302 Found", [("Location", "/echo"), ("Content-Length", "0")])
            return [b""]
        if path == "/away":  # redirect to the URL in the query string
            start_response("302 Found", [("Location", environ["QUERY_STRING"]), ("Content-Length", "0")])
            return [b""]
        if path == "/slow":
            time.sleep(0.5)
        status = int(path[len("/status/") :]) if path.startswith("/status/") else 200
        body_bytes = json.dumps(seen).encode()
        start_response(f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(body_bytes)))])
        return [body_bytes]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


# --- span and headers ---------------------------------------------------------------------------------------------


def test_client_span_is_child_of_current_and_injected_parent_is_the_client_span(
    tracer: Tracer, exporter: InMemoryExporter
) -> None:
    client, recorder = mock_client(propagate_baggage_to=["*"])
    with client, use_baggage(Baggage.EMPTY.set("tenant", "acme")), tracer.start_as_current_span("request") as parent:
        response = client.get("http://api.example.com:8080/items?id=7")
    assert response.status_code == 200
    (span,) = client_spans(exporter)
    assert span.name == "GET"
    assert span.parent is not None and span.parent.span_id == parent.context.span_id
    assert span.context.trace_id == parent.context.trace_id
    assert recorder.headers["traceparent"] == format_traceparent(span.context)
    assert parent_id_of(recorder.headers["traceparent"]) == span.context.span_id
    assert recorder.headers["baggage"] == "tenant=acme"
    assert span.attributes["http.request.method"] == "GET"
    assert span.attributes["url.full"] == "http://api.example.com:8080/items?id=7"
    assert span.attributes["server.address"] == "api.example.com"
    assert span.attributes["server.port"] == 8080
    assert span.attributes["http.response.status_code"] == 200
    assert span.status.code is StatusCode.UNSET
    assert "error.type" not in span.attributes


def test_without_current_span_the_client_span_starts_a_trace(exporter: InMemoryExporter) -> None:
    configure(service_name="svc", exporter=exporter, export_mode="simple")
    client, recorder = mock_client()
    with client:
        client.get("https://example.com/")
    (span,) = client_spans(exporter)
    assert span.parent is None
    assert span.attributes["server.port"] == 443
    assert parent_id_of(recorder.headers["traceparent"]) == span.context.span_id
    assert "baggage" not in recorder.headers


class _VendorSampler(Sampler):
    """Samples everything and writes its own tracestate entry, as a vendor sampler would."""

    def should_sample(
        self,
        parent: SpanContext | None,
        trace_id: int,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, object] | None = None,
        links: Sequence[Any] = (),
    ) -> SamplingResult:
        state = parent.trace_state if parent is not None else TraceState.EMPTY
        return SamplingResult(SamplingDecision.RECORD_AND_SAMPLE, None, state.set("c13", "s1"))


def test_tracestate_is_forwarded_with_own_entry_first(exporter: InMemoryExporter) -> None:
    incoming = SpanContext(0x1234, 0x5678, 1, TraceState.from_headers(["other=x,c13=old"]), True)
    tracer = Tracer(service_name="svc", exporter=exporter, export_mode="simple", sampler=_VendorSampler())
    client, recorder = mock_client()
    with client, tracer.start_as_current_span("request", parent=incoming):
        client.get("http://example.com/")
    assert recorder.headers["tracestate"] == "c13=s1,other=x"


def test_url_credentials_and_sensitive_query_values_are_redacted(tracer: Tracer, exporter: InMemoryExporter) -> None:
    client, _ = mock_client()
    with client, tracer.start_as_current_span("request"):
        client.get("http://user:secret@example.com/path?token=abc&page=2&Signature=xyz#frag")
    (span,) = client_spans(exporter)
    assert span.attributes["url.full"] == (
        "http://REDACTED:REDACTED@example.com/path?token=REDACTED&page=2&Signature=REDACTED"  # fragment never recorded
    )


def test_unknown_method_is_named_http_with_other(tracer: Tracer, exporter: InMemoryExporter) -> None:
    client, _ = mock_client()
    with client, tracer.start_as_current_span("request"):
        client.request("PURGE", "http://example.com/cache")
    (span,) = client_spans(exporter)
    assert span.name == "HTTP"
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "PURGE"


@pytest.mark.parametrize(("status", "error"), [(200, False), (302, False), (404, True), (503, True)])
def test_4xx_and_5xx_are_errors_on_client_spans(
    tracer: Tracer, exporter: InMemoryExporter, status: int, error: bool
) -> None:
    client, _ = mock_client(Recorder(status))
    with client, tracer.start_as_current_span("request"):
        client.get("http://example.com/")
    (span,) = client_spans(exporter)
    assert span.attributes["http.response.status_code"] == status
    assert (span.status.code is StatusCode.ERROR) is error
    assert span.attributes.get("error.type") == (str(status) if error else None)


# --- propagation targets and suppression ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "url", "propagated"),
    [
        (None, "http://third.party/", True),
        (["api.internal"], "http://api.internal/x", True),
        (["API.Internal"], "http://api.internal/x", True),
        (["api.internal:8443"], "https://api.internal:8443/x", True),
        (["api.internal:8443"], "https://api.internal/x", False),
        ([re.compile(r"^https://[^/]*\.corp\.example/")], "https://billing.corp.example/pay", True),
        ([re.compile(r"^https://[^/]*\.corp\.example/")], "https://evil.example/?https://x.corp.example/", False),
        (["api.internal"], "http://third.party/", False),
        ([], "http://api.internal/", False),
    ],
)
def test_propagate_to_allow_list(
    tracer: Tracer, exporter: InMemoryExporter, rules: list[Any] | None, url: str, propagated: bool
) -> None:
    client, recorder = mock_client(propagate_to=rules)
    with client, use_baggage(Baggage.EMPTY.set("k", "v")), tracer.start_as_current_span("request"):
        client.get(url)
    assert len(client_spans(exporter)) == 1  # a span either way
    assert ("traceparent" in recorder.headers) is propagated
    # Baggage follows propagate_to when it is set; with None (context everywhere) it goes nowhere by default.
    assert ("baggage" in recorder.headers) is (propagated and rules is not None)


def test_suppressed_calls_get_no_span_and_no_header(tracer: Tracer, exporter: InMemoryExporter) -> None:
    client, recorder = mock_client()
    with client, tracer.start_as_current_span("request"), suppress_instrumentation():
        client.get("http://example.com/")
    assert client_spans(exporter) == []
    assert not any(name in recorder.headers for name in PROPAGATION_HEADERS)


def test_instrumentation_failure_is_logged_once_and_the_request_proceeds(
    tracer: Tracer, exporter: InMemoryExporter, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Pipeline) -> Any:
        raise RuntimeError("broken pipeline")

    monkeypatch.setattr(Pipeline, "resolve", broken)
    client, recorder = mock_client()
    with caplog.at_level(logging.WARNING, logger="c13_middleware"), client, tracer.start_as_current_span("request"):
        assert client.get("http://example.com/").text == "ok"
        assert client.get("http://example.com/").text == "ok"
    assert "traceparent" not in recorder.headers
    assert client_spans(exporter) == []
    assert len([r for r in caplog.records if "httpx request span" in r.getMessage()]) == 1


def test_a_user_header_is_replaced_not_duplicated(tracer: Tracer, exporter: InMemoryExporter) -> None:
    client, recorder = mock_client()
    with client, tracer.start_as_current_span("request"):
        client.get("http://example.com/", headers={"TraceParent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})
    (span,) = client_spans(exporter)
    assert recorder.headers.get_list("traceparent") == [format_traceparent(span.context)]


# --- which pipeline ---------------------------------------------------------------------------------------------


def _wsgi_app_calling_out(client: httpx.Client) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        client.get("http://downstream.example/")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    return app


def test_call_inside_a_traced_request_uses_the_request_pipeline(exporter: InMemoryExporter) -> None:
    default_exporter = InMemoryExporter()
    configure(service_name="default", exporter=default_exporter, export_mode="simple")
    outgoing, recorder = mock_client()  # no options: follows the current span's pipeline
    app = C13WSGIMiddleware(
        _wsgi_app_calling_out(outgoing), service_name="api", exporter=exporter, export_mode="simple"
    )
    with outgoing, httpx.Client(transport=httpx.WSGITransport(app=app)) as driver:
        assert driver.get("http://testserver/orders").text == "done"
    assert default_exporter.get_finished_spans() == []
    server = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER)
    (span,) = client_spans(exporter)
    assert span.resource.attributes["service.name"] == "api"
    assert span.parent is not None and span.parent.span_id == server.context.span_id
    assert parent_id_of(recorder.headers["traceparent"]) == span.context.span_id


def test_explicit_pipeline_options_win_inside_a_request(tracer: Tracer, exporter: InMemoryExporter) -> None:
    own = InMemoryExporter()
    client, _ = mock_client(service_name="payments-client", exporter=own, export_mode="simple")
    with client, tracer.start_as_current_span("request") as parent:
        client.get("http://example.com/")
    assert client_spans(exporter) == []
    (span,) = client_spans(own)
    assert span.resource.attributes["service.name"] == "payments-client"
    assert span.parent is not None and span.parent.span_id == parent.context.span_id  # still one trace


def test_outside_requests_the_default_is_read_at_call_time(exporter: InMemoryExporter) -> None:
    client, _ = mock_client()  # built before configure()
    configure(service_name="late", exporter=exporter, export_mode="simple")
    with client:
        client.get("http://example.com/")
    (span,) = client_spans(exporter)
    assert span.resource.attributes["service.name"] == "late"


def test_non_pipeline_options_apply_over_the_current_pipeline(tracer: Tracer, exporter: InMemoryExporter) -> None:
    client, recorder = mock_client(propagate_to=["only.this.host"])
    with client, tracer.start_as_current_span("request"):
        client.get("http://example.com/")
    assert len(client_spans(exporter)) == 1  # recorded through the request's tracer
    assert "traceparent" not in recorder.headers


# --- composition with other transports -----------------------------------------------------------------------------


async def _asgi_echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    body = json.dumps({name: headers.get(name) for name in PROPAGATION_HEADERS}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def test_async_transport_wraps_asgi_transport(tracer: Tracer, exporter: InMemoryExporter) -> None:
    async def main() -> dict[str, str]:
        transport = AsyncC13Transport(httpx.ASGITransport(app=_asgi_echo))
        async with httpx.AsyncClient(transport=transport) as client:
            with tracer.start_as_current_span("request"):
                response = await client.get("http://testserver/")
                return dict(response.json())

    seen = asyncio.run(main())
    (span,) = client_spans(exporter)
    assert parent_id_of(seen["traceparent"]) == span.context.span_id
    assert span.attributes["http.response.status_code"] == 200


def test_async_suppressed_and_failing_calls_go_out_untouched(
    tracer: Tracer, exporter: InMemoryExporter, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def get(client: httpx.AsyncClient) -> dict[str, Any]:
        return dict((await client.get("http://testserver/")).json())

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        async with httpx.AsyncClient(transport=AsyncC13Transport(httpx.ASGITransport(app=_asgi_echo))) as client:
            with tracer.start_as_current_span("request"):
                with suppress_instrumentation():
                    suppressed = await get(client)
                with monkeypatch.context() as patch:
                    patch.setattr(Pipeline, "resolve", _broken_resolve)
                    failing = await get(client)
        return suppressed, failing

    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        suppressed, failing = asyncio.run(main())
    assert suppressed["traceparent"] is None and failing["traceparent"] is None  # sent as the caller built them
    assert client_spans(exporter) == []
    assert "could not start an httpx request span" in caplog.text


def _broken_resolve(self: Pipeline) -> Any:
    raise RuntimeError("broken pipeline")


# --- real server: propagation, streaming, redirects, errors ---------------------------------------------------------


def test_real_server_receives_the_client_span_as_parent(
    server: Server, tracer: Tracer, exporter: InMemoryExporter
) -> None:
    with httpx.Client(transport=C13Transport()) as client, tracer.start_as_current_span("request"):
        seen = client.get(server.url + "/echo").json()
    (span,) = client_spans(exporter)
    assert parent_id_of(seen["traceparent"]) == span.context.span_id
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == server.port
    assert span.attributes["network.protocol.version"] == "1.1"


def test_streamed_body_time_is_in_the_span(server: Server, tracer: Tracer, exporter: InMemoryExporter) -> None:
    with httpx.Client(transport=C13Transport()) as client, tracer.start_as_current_span("request"):
        with client.stream("GET", server.url + "/stream") as response:
            assert response.status_code == 200
            assert client_spans(exporter) == []  # head received, body not read: still open
            body = response.read()
        (span,) = client_spans(exporter)
    assert body == b"first,second"
    assert span.duration_ns is not None and span.duration_ns >= STREAM_PAUSE * 0.9e9


def test_async_streamed_body_time_is_in_the_span(server: Server, tracer: Tracer, exporter: InMemoryExporter) -> None:
    async def main() -> bytes:
        async with httpx.AsyncClient(transport=AsyncC13Transport()) as client:
            with tracer.start_as_current_span("request"):
                async with client.stream("GET", server.url + "/stream") as response:
                    chunks = [chunk async for chunk in response.aiter_bytes()]
                    assert len(client_spans(exporter)) == 1  # fully read: httpx closed it
                return b"".join(chunks)

    assert asyncio.run(main()) == b"first,second"
    (span,) = client_spans(exporter)
    assert span.duration_ns is not None and span.duration_ns >= STREAM_PAUSE * 0.9e9


def test_each_redirect_hop_is_its_own_span(server: Server, tracer: Tracer, exporter: InMemoryExporter) -> None:
    server.seen.clear()
    with httpx.Client(transport=C13Transport(), follow_redirects=True) as client:
        with tracer.start_as_current_span("request") as parent:
            response = client.get(server.url + "/redirect")
    assert response.status_code == 200
    first, second = client_spans(exporter)
    assert first.attributes["http.response.status_code"] == 302
    assert second.attributes["url.full"] == server.url + "/echo"
    assert {first.parent.span_id, second.parent.span_id} == {parent.context.span_id}  # type: ignore[union-attr]
    sent = [parent_id_of(str(hop["traceparent"])) for hop in server.seen]
    assert sent == [first.context.span_id, second.context.span_id]
    assert first.context.span_id != second.context.span_id


def test_redirect_to_a_host_outside_propagate_to_loses_the_headers(
    server: Server, tracer: Tracer, exporter: InMemoryExporter
) -> None:
    server.seen.clear()
    elsewhere = f"http://localhost:{server.port}/echo"  # same server, another host name
    with httpx.Client(transport=C13Transport(propagate_to=["127.0.0.1"]), follow_redirects=True) as client:
        with use_baggage(Baggage.EMPTY.set("k", "v")), tracer.start_as_current_span("request"):
            client.get(f"{server.url}/away?{elsewhere}").raise_for_status()
    first_hop, second_hop = server.seen
    assert first_hop["path"] == "/away" and first_hop["baggage"] == "k=v"
    assert first_hop["traceparent"] is not None
    assert second_hop["path"] == "/echo"
    assert second_hop["traceparent"] is None and second_hop["baggage"] is None
    first, second = client_spans(exporter)
    assert parent_id_of(first_hop["traceparent"]) == first.context.span_id
    assert second.attributes["server.address"] == "localhost"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connect_error_is_recorded_and_reraised_unchanged(tracer: Tracer, exporter: InMemoryExporter) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/"
    with httpx.Client(transport=C13Transport()) as client, tracer.start_as_current_span("request"):
        with pytest.raises(httpx.ConnectError) as raised:
            client.get(url)
    (span,) = client_spans(exporter)
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == "httpx.ConnectError"
    assert [event.name for event in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"] == "httpx.ConnectError"
    assert type(raised.value) is httpx.ConnectError


def test_timeout_is_recorded(server: Server, tracer: Tracer, exporter: InMemoryExporter) -> None:
    with httpx.Client(transport=C13Transport(), timeout=0.1) as client, tracer.start_as_current_span("request"):
        with pytest.raises(httpx.ReadTimeout):
            client.get(server.url + "/slow")
    (span,) = client_spans(exporter)
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == "httpx.ReadTimeout"


def test_module_level_get_is_traced_when_instrumented(server: Server, exporter: InMemoryExporter) -> None:
    configure(service_name="svc", exporter=exporter, export_mode="simple")
    instrument()
    seen = httpx.get(server.url + "/echo").json()
    (span,) = client_spans(exporter)
    assert parent_id_of(seen["traceparent"]) == span.context.span_id


# --- response lifetime ---------------------------------------------------------------------------------------------


class _Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, *chunks: bytes, fail: Exception | None = None) -> None:
        self.chunks = chunks
        self.fail = fail
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.fail is not None:
            raise self.fail

    async def __aiter__(self) -> Any:
        for chunk in self.chunks:
            yield chunk
        if self.fail is not None:
            raise self.fail

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def test_an_unread_unclosed_response_ends_its_span_when_collected(tracer: Tracer, exporter: InMemoryExporter) -> None:
    stream = _Chunks(b"a", b"b")
    client = httpx.Client(
        transport=C13Transport(httpx.MockTransport(lambda request: httpx.Response(200, stream=stream)))
    )
    with client, tracer.start_as_current_span("request"):
        response = client.send(client.build_request("GET", "http://example.com/"), stream=True)
        assert client_spans(exporter) == []
        del response
        gc.collect()
        (span,) = client_spans(exporter)
    assert span.attributes["c13.http.response.abandoned"] is True


def test_an_error_while_reading_the_body_ends_the_span(tracer: Tracer, exporter: InMemoryExporter) -> None:
    stream = _Chunks(b"a", fail=httpx.ReadError("connection reset"))
    transport = C13Transport(httpx.MockTransport(lambda request: httpx.Response(500, stream=stream)))
    with httpx.Client(transport=transport) as client, tracer.start_as_current_span("request"):
        with pytest.raises(httpx.ReadError):
            client.get("http://example.com/")
    (span,) = client_spans(exporter)
    assert span.attributes["http.response.status_code"] == 500
    assert span.attributes["error.type"] == "httpx.ReadError"
    assert stream.closed


def test_async_cancellation_ends_the_span(tracer: Tracer, exporter: InMemoryExporter) -> None:
    started = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    async def main() -> None:
        async with httpx.AsyncClient(transport=AsyncC13Transport(httpx.MockTransport(hang))) as client:
            with tracer.start_as_current_span("request"):
                task = asyncio.ensure_future(client.get("http://example.com/"))
                await started.wait()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

    asyncio.run(main())
    (span,) = client_spans(exporter)
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == "asyncio.exceptions.CancelledError"


def test_async_cancel_while_streaming_ends_the_span(tracer: Tracer, exporter: InMemoryExporter) -> None:
    class Slow(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield b"a"
            await asyncio.sleep(30)
            yield b"b"

    async def main() -> None:
        transport = AsyncC13Transport(httpx.MockTransport(lambda request: httpx.Response(200, stream=Slow())))
        async with httpx.AsyncClient(transport=transport) as client:
            with tracer.start_as_current_span("request"):

                async def consume() -> None:
                    async with client.stream("GET", "http://example.com/") as response:
                        async for _ in response.aiter_bytes():
                            pass

                task = asyncio.ensure_future(consume())
                await asyncio.sleep(0.05)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

    asyncio.run(main())
    (span,) = client_spans(exporter)
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["error.type"] == "asyncio.exceptions.CancelledError"


# --- instrument() ---------------------------------------------------------------------------------------------------


def test_instrument_is_idempotent_reversible_and_never_double_wraps(exporter: InMemoryExporter) -> None:
    configure(service_name="svc", exporter=exporter, export_mode="simple")
    original_sync, original_async = httpx.Client.__init__, httpx.AsyncClient.__init__
    recorder = Recorder()
    instrument()
    instrument()
    assert is_instrumented()
    with httpx.Client(transport=httpx.MockTransport(recorder)) as client:
        assert isinstance(client._transport, C13Transport)
        assert not isinstance(client._transport.wrapped, C13Transport)
        client.get("http://example.com/")
    assert len(client_spans(exporter)) == 1

    explicit = C13Transport(httpx.MockTransport(recorder))
    with httpx.Client(transport=explicit) as client:
        assert client._transport is explicit  # already traced: left alone
        client.get("http://example.com/")
    assert len(client_spans(exporter)) == 2

    async_client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    assert isinstance(async_client._transport, AsyncC13Transport)
    asyncio.run(async_client.aclose())

    uninstrument()
    uninstrument()
    assert not is_instrumented()
    assert httpx.Client.__init__ is original_sync and httpx.AsyncClient.__init__ is original_async
    with httpx.Client(transport=httpx.MockTransport(recorder)) as client:
        assert isinstance(client._transport, httpx.MockTransport)
        client.get("http://example.com/")
    assert len(client_spans(exporter)) == 2
    assert "traceparent" not in recorder.headers


def test_instrument_wraps_mounted_transports_and_validates_options(exporter: InMemoryExporter) -> None:
    with pytest.raises(ValueError, match="did you mean 'propagate_to'"):
        instrument(propagate_too=["x"])
    assert not is_instrumented()
    instrument(service_name="instrumented", exporter=exporter, export_mode="simple")
    recorder = Recorder()
    mounts = {"http://mounted.example": httpx.MockTransport(recorder)}
    with httpx.Client(mounts=mounts, transport=httpx.MockTransport(Recorder())) as client:
        client.get("http://mounted.example/")
    (span,) = client_spans(exporter)
    assert span.resource.attributes["service.name"] == "instrumented"
    assert parent_id_of(recorder.headers["traceparent"]) == span.context.span_id


def test_uninstrument_stops_tracing_even_under_a_later_wrapper(
    exporter: InMemoryExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    instrument(exporter=exporter, export_mode="simple")
    ours = httpx.Client.__init__
    built: list[object] = []

    def later_wrapper(client: httpx.Client, *args: Any, **kwargs: Any) -> None:  # another library's, after ours
        ours(client, *args, **kwargs)
        built.append(client)

    monkeypatch.setattr(httpx.Client, "__init__", later_wrapper)
    uninstrument()
    assert httpx.Client.__init__ is later_wrapper  # theirs is not undone
    with httpx.Client(transport=httpx.MockTransport(Recorder())) as client:
        assert isinstance(client._transport, httpx.MockTransport)  # ours, still in their chain, does nothing
        client.get("http://example.com/")
    assert built == [client] and client_spans(exporter) == []


# --- the shared client core (c13_middleware.client._core) ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/a@b", "http://example.com/a@b"),  # "@" outside the authority
        ("http://u@example.com?x=1", "http://REDACTED:REDACTED@example.com?x=1"),
        ("example.com/?token=1", "example.com/?token=REDACTED"),  # no scheme: only the query is redacted
        ("http://h/p?TOKEN=1&x=2#f?token=3", "http://h/p?TOKEN=REDACTED&x=2"),  # the fragment is dropped
        ("http://h/p?tokens=1&x=token=2", "http://h/p?tokens=1&x=token=2"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    from c13_middleware.client._core import ClientSettings
    from c13_middleware.trace._config import Config

    assert ClientSettings(Config()).redact_url(url) == expected


def test_redact_url_without_sensitive_names_keeps_the_query() -> None:
    from c13_middleware.client._core import ClientSettings
    from c13_middleware.trace._config import Config

    settings = ClientSettings(Config(sensitive_query_params=()))
    assert settings.redact_url("http://a:b@h/?token=1") == "http://REDACTED:REDACTED@h/?token=1"


def test_host_rules_accept_ports_and_bracketed_ipv6() -> None:
    from c13_middleware.client._core import ClientSettings
    from c13_middleware.trace._config import Config

    settings = ClientSettings(Config(propagate_to=("[::1]:8080", "[::2]", re.compile(r"/internal/"))))
    assert settings.propagates_to("::1", 8080, "http://[::1]:8080/")
    assert not settings.propagates_to("::1", 80, "http://[::1]/")
    assert settings.propagates_to("::2", 443, "https://[::2]/")
    assert settings.propagates_to("other", 80, "http://other/internal/x")


def test_pipeline_settings_follow_each_current_tracer(exporter: InMemoryExporter) -> None:
    first = Tracer(service_name="first", exporter=exporter, export_mode="simple")
    second = Tracer(service_name="second", exporter=exporter, export_mode="simple", propagate_to=["x"])
    pipeline = Pipeline({"sensitive_query_params": ("secret",)})
    assert pipeline.own_tracer is None
    for _ in range(2):  # the second round comes from the per-tracer cache
        for tracer in (first, second):
            with tracer.start_as_current_span("request"):
                chosen, settings = pipeline.resolve()
            assert chosen is tracer
            assert settings.config.service_name == tracer.config.service_name
            assert settings.config.sensitive_query_params == ("secret",)  # the client's option, over the tracer's
            assert settings.config.propagate_to == tracer.config.propagate_to
    server_side = Pipeline(follow_current=False)
    with first.start_as_current_span("request"):
        assert server_side.tracer() is not first


def test_inject_with_a_custom_propagator_and_a_failing_setter(tracer: Tracer, caplog: pytest.LogCaptureFixture) -> None:
    from c13_middleware import TraceContextPropagator
    from c13_middleware.client._core import ClientSettings, inject_context
    from c13_middleware.trace._config import Config

    settings = ClientSettings(Config(propagator=TraceContextPropagator()))
    carrier: dict[str, str] = {}
    with use_baggage(Baggage.EMPTY.set("k", "v")), tracer.start_as_current_span("request") as span:
        inject_context(carrier.__setitem__, span, settings)
        assert carrier == {"traceparent": format_traceparent(span.context)}  # no baggage propagator configured

        def broken(name: str, value: str) -> None:
            raise RuntimeError("carrier is read-only")

        with caplog.at_level(logging.WARNING, logger="c13_middleware"):
            inject_context(broken, span, ClientSettings(Config()))
            inject_context(broken, span, ClientSettings(Config()))
    assert len([r for r in caplog.records if "injecting context" in r.getMessage()]) == 1


def test_span_limits_apply_to_client_attributes(exporter: InMemoryExporter) -> None:
    from c13_middleware import SpanLimits

    limits = SpanLimits(max_attribute_length=12, max_attributes=3)
    client, _ = mock_client(service_name="tiny", exporter=exporter, export_mode="simple", span_limits=limits)
    with client:
        client.request("PURGEALLCACHES", "http://example.com/a/very/long/path")
    (span,) = client_spans(exporter)
    assert span.attributes["url.full"] == "http://examp"
    assert len(span.attributes) <= 3
    assert span.dropped_attributes_count > 0


def test_a_failure_while_ending_is_logged_once(
    tracer: Tracer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from c13_middleware.client._core import HttpClientCall, Pipeline as _Pipeline

    def broken_end(self: Span, end_time: int | None = None) -> None:
        raise RuntimeError("exporter bug")

    _, settings = _Pipeline().resolve()
    monkeypatch.setattr(Span, "end", broken_end)
    for _ in range(2):
        call = HttpClientCall.start(tracer, settings, "GET", "http://h/", "h", 80)
        with caplog.at_level(logging.WARNING, logger="c13_middleware"):
            call.finish()
        assert call.finished
    assert len([r for r in caplog.records if "ending an outgoing call" in r.getMessage()]) == 1
