from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from c13_middleware import (
    Baggage,
    InMemoryExporter,
    Span,
    SpanKind,
    StatusCode,
    current_span,
    get_baggage,
    suppress_instrumentation,
    use_baggage,
)
from c13_middleware.integrations.grpc import client_interceptor, server_interceptor
from c13_middleware.propagation._traceparent import format_traceparent
from c13_middleware.server._extensions import set_request_profiler
from tests.conftest import assert_connected
from tests.integrations.conftest import grpc_serving

SERVICE = "shop.v1.Orders"


# --- server ---------------------------------------------------------------------------------------------------------


def unary(request: bytes, context: Any) -> bytes:
    if request == b"abort":
        context.abort(grpc.StatusCode.NOT_FOUND, "no such order")
    if request == b"boom":
        raise RuntimeError("handler failed")
    if request == b"set-code":
        context.set_code(grpc.StatusCode.FAILED_PRECONDITION)
        return b""
    if request == b"baggage":
        entry = get_baggage().get("tenant")
        return entry.value.encode() if entry is not None else b"-"
    span = current_span()
    assert span is not None and span.tracer is not None
    with span.tracer.start_as_current_span("load order"):
        pass
    return format_traceparent(span.context).encode()  # which span was current in the handler


def server_stream(request: bytes, context: Any) -> Iterator[bytes]:
    count = int(request or b"3")
    for index in range(count):
        if not context.is_active():
            return
        yield b"%d" % index
        time.sleep(0.02)


def client_stream(requests: Iterator[bytes], context: Any) -> bytes:
    return b",".join(requests)


def bidi(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
    for request in requests:
        yield request.upper()


class RecordingProfiler:
    """A per-request profiler registered through the server's extension point: records what the core asks of it."""

    request_headers = ("x-c13-profile", "x-c13-profile-token")

    def __init__(self) -> None:
        self.started: list[tuple[object, Span, Span | None]] = []
        self.ended: list[Span] = []

    def decide(self, method: str, path: str, header: Callable[[str], str | None]) -> tuple[str, str]:
        return method, path

    def begin(self, decision: object, span: Span, frame: Any) -> RecordedProfile:
        self.started.append((decision, span, current_span()))
        return RecordedProfile(self, span)


class RecordedProfile:
    def __init__(self, profiler: RecordingProfiler, span: Span) -> None:
        self.profiler = profiler
        self.span = span
        self.done = False

    def finish(self) -> list[tuple[str, str]]:
        if not self.done:
            self.done = True
            self.profiler.ended.append(self.span)
        return []

    def stop(self) -> None:
        return None

    def early_headers(self) -> list[tuple[str, str]]:
        return []


@pytest.fixture(scope="module")
def module_spans() -> InMemoryExporter:
    return InMemoryExporter()


@pytest.fixture(scope="module")
def grpc_server(module_spans: InMemoryExporter) -> Iterator[tuple[str, RecordingProfiler]]:
    profiler = RecordingProfiler()
    previous = set_request_profiler(lambda config: profiler)
    try:
        interceptor = server_interceptor(
            service_name="orders-server", exporter=module_spans, export_mode="simple", profile_sample_rate=1.0
        )
    finally:
        set_request_profiler(previous)
    handlers = {
        "Get": grpc.unary_unary_rpc_method_handler(unary),
        "Watch": grpc.unary_stream_rpc_method_handler(server_stream),
        "Upload": grpc.stream_unary_rpc_method_handler(client_stream),
        "Chat": grpc.stream_stream_rpc_method_handler(bidi),
    }
    with grpc_serving(interceptor, SERVICE, handlers) as target:
        yield target, profiler


@pytest.fixture
def spans(module_spans: InMemoryExporter) -> Iterator[InMemoryExporter]:
    module_spans.clear()
    yield module_spans
    module_spans.clear()


@pytest.fixture
def channel(grpc_server: tuple[str, RecordingProfiler], spans: InMemoryExporter) -> Iterator[Any]:
    target = grpc_server[0]
    interceptor = client_interceptor(target, service_name="orders-client", exporter=spans, export_mode="simple")
    with grpc.insecure_channel(target) as raw:
        yield grpc.intercept_channel(raw, interceptor)


def wait_for(spans: InMemoryExporter, count: int, timeout: float = 5.0) -> list[Span]:
    deadline = time.monotonic() + timeout
    while len(spans.get_finished_spans()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return spans.get_finished_spans()


def pair(spans: InMemoryExporter, method: str, count: int = 2) -> tuple[Span, Span]:
    finished = [s for s in wait_for(spans, count) if s.name == f"{SERVICE}/{method}"]
    client = next(s for s in finished if s.kind is SpanKind.CLIENT)
    server = next(s for s in finished if s.kind is SpanKind.SERVER)
    return client, server


# --- tests ----------------------------------------------------------------------------------------------------------


def test_unary_call_server_span_is_child_of_client_span_and_current(
    channel: Any, spans: InMemoryExporter, grpc_server: tuple[str, RecordingProfiler]
) -> None:
    reply = channel.unary_unary(f"/{SERVICE}/Get")(b"order-1")
    client, server = pair(spans, "Get", 3)
    assert_connected(client, server)
    assert reply.decode() == format_traceparent(server.context)  # the SERVER span was current in the handler
    child = next(s for s in spans.get_finished_spans() if s.name == "load order")
    assert child.parent is not None and child.parent.span_id == server.context.span_id
    for span in (client, server):
        assert span.attributes["rpc.system"] == "grpc"
        assert span.attributes["rpc.service"] == SERVICE
        assert span.attributes["rpc.method"] == "Get"
        assert span.attributes["rpc.grpc.status_code"] == 0
        assert span.status.code is StatusCode.UNSET
    assert client.attributes["server.address"] == "127.0.0.1"
    assert client.attributes["server.port"] == int(grpc_server[0].rsplit(":", 1)[1])
    assert server.attributes["client.address"] == "127.0.0.1"
    assert client.resource.attributes["service.name"] == "orders-client"
    assert server.resource.attributes["service.name"] == "orders-server"


def test_server_streaming(channel: Any, spans: InMemoryExporter) -> None:
    assert list(channel.unary_stream(f"/{SERVICE}/Watch")(b"3")) == [b"0", b"1", b"2"]
    client, server = pair(spans, "Watch")
    assert_connected(client, server)
    assert client.attributes["rpc.grpc.status_code"] == server.attributes["rpc.grpc.status_code"] == 0


def test_client_streaming(channel: Any, spans: InMemoryExporter) -> None:
    assert channel.stream_unary(f"/{SERVICE}/Upload")(iter([b"a", b"b"])) == b"a,b"
    client, server = pair(spans, "Upload")
    assert_connected(client, server)
    assert client.attributes["rpc.grpc.status_code"] == 0


def test_bidi_streaming(channel: Any, spans: InMemoryExporter) -> None:
    assert list(channel.stream_stream(f"/{SERVICE}/Chat")(iter([b"a", b"b"]))) == [b"A", b"B"]
    client, server = pair(spans, "Chat")
    assert_connected(client, server)
    assert server.attributes["rpc.grpc.status_code"] == 0


def test_future_call(channel: Any, spans: InMemoryExporter) -> None:
    future = channel.unary_unary(f"/{SERVICE}/Get").future(b"order-2")
    assert future.result(timeout=5)
    client, server = pair(spans, "Get", 3)
    assert_connected(client, server)


def test_abort_not_found_is_an_error_on_the_client_only(channel: Any, spans: InMemoryExporter) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        channel.unary_unary(f"/{SERVICE}/Get")(b"abort")
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    client, server = pair(spans, "Get")
    assert client.attributes["rpc.grpc.status_code"] == server.attributes["rpc.grpc.status_code"] == 5
    assert client.status.code is StatusCode.ERROR and client.attributes["error.type"] == "NOT_FOUND"
    assert server.status.code is StatusCode.UNSET  # NOT_FOUND is the client's problem (semantic conventions)
    assert not server.events  # abort's unwinding exception is not an application error


def test_set_code_is_recorded(channel: Any, spans: InMemoryExporter) -> None:
    with pytest.raises(grpc.RpcError):
        channel.unary_unary(f"/{SERVICE}/Get")(b"set-code")
    client, server = pair(spans, "Get")
    assert server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert client.attributes["error.type"] == "FAILED_PRECONDITION"


def test_handler_exception_is_unknown_with_the_exception_recorded(channel: Any, spans: InMemoryExporter) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        channel.unary_unary(f"/{SERVICE}/Get")(b"boom")
    assert raised.value.code() is grpc.StatusCode.UNKNOWN
    client, server = pair(spans, "Get")
    assert server.attributes["rpc.grpc.status_code"] == client.attributes["rpc.grpc.status_code"] == 2
    assert server.status.code is StatusCode.ERROR and client.status.code is StatusCode.ERROR
    assert [e.attributes["exception.type"] for e in server.events] == ["RuntimeError"]


def test_cancelled_server_stream_ends_both_spans_with_cancelled(channel: Any, spans: InMemoryExporter) -> None:
    call = channel.unary_stream(f"/{SERVICE}/Watch")(b"1000")
    assert next(call) == b"0"
    call.cancel()
    client, server = pair(spans, "Watch")
    assert client.attributes["rpc.grpc.status_code"] == 1
    assert client.status.code is StatusCode.ERROR and client.attributes["error.type"] == "CANCELLED"
    assert server.attributes["rpc.grpc.status_code"] == 1
    assert server.end_time is not None


def test_a_dropped_unread_stream_is_cancelled_and_its_spans_end(channel: Any, spans: InMemoryExporter) -> None:
    call = channel.unary_stream(f"/{SERVICE}/Watch")(b"1000")
    assert next(call) == b"0"
    del call  # the interceptor keeps no strong reference, so gRPC cancels the collected call
    gc.collect()
    client, server = pair(spans, "Watch")
    assert client.attributes["rpc.grpc.status_code"] == server.attributes["rpc.grpc.status_code"] == 1


@pytest.mark.parametrize(
    ("options", "received"),
    [
        ({}, b"-"),  # the default: baggage goes nowhere unless asked (docs/security.md, "Baggage")
        ({"propagate_baggage_to": ["*"]}, b"acme"),
        ({"propagate_to": ["127.0.0.1"]}, b"acme"),  # follows propagate_to when that is set
        ({"propagate_baggage_to": ["other.internal"]}, b"-"),
        ({"propagate_to": ["other.internal"], "propagate_baggage_to": ["*"]}, b"-"),  # never where context does not go
    ],
)
def test_baggage_reaches_the_handler_only_where_allowed(
    grpc_server: tuple[str, RecordingProfiler], spans: InMemoryExporter, options: dict[str, Any], received: bytes
) -> None:
    target = grpc_server[0]
    assert target.startswith("127.0.0.1:")
    interceptor = client_interceptor(target, service_name="c", exporter=spans, export_mode="simple", **options)
    with grpc.insecure_channel(target) as raw, use_baggage(Baggage.EMPTY.set("tenant", "acme")):
        assert grpc.intercept_channel(raw, interceptor).unary_unary(f"/{SERVICE}/Get")(b"baggage") == received
    assert get_baggage() == Baggage.EMPTY


def test_client_span_is_child_of_the_current_span(channel: Any, spans: InMemoryExporter) -> None:
    from c13_middleware import Tracer

    tracer = Tracer(service_name="caller", exporter=spans, export_mode="simple")
    with tracer.start_as_current_span("request") as parent:
        channel.unary_unary(f"/{SERVICE}/Get")(b"order-3")
    client, server = pair(spans, "Get", 4)
    assert client.parent is not None and client.parent.span_id == parent.context.span_id
    assert server.context.trace_id == parent.context.trace_id


def test_suppressed_call_sends_no_context(channel: Any, spans: InMemoryExporter) -> None:
    with suppress_instrumentation():
        channel.unary_unary(f"/{SERVICE}/Get")(b"order-4")
    finished = wait_for(spans, 2)
    assert [s.kind for s in finished if s.name == f"{SERVICE}/Get"] == [SpanKind.SERVER]
    server = next(s for s in finished if s.kind is SpanKind.SERVER)
    assert server.parent is None


def test_propagate_to_keeps_context_from_other_targets(
    grpc_server: tuple[str, RecordingProfiler], spans: InMemoryExporter
) -> None:
    target = grpc_server[0]
    interceptor = client_interceptor(
        target, service_name="c", exporter=spans, export_mode="simple", propagate_to=["trusted.internal"]
    )
    with grpc.insecure_channel(target) as raw:
        grpc.intercept_channel(raw, interceptor).unary_unary(f"/{SERVICE}/Get")(b"order-5")
    client, server = pair(spans, "Get", 3)
    assert server.parent is None
    assert server.context.trace_id != client.context.trace_id


def test_the_registered_profiler_runs_once_per_call_inside_the_handler_context(
    channel: Any, spans: InMemoryExporter, grpc_server: tuple[str, RecordingProfiler]
) -> None:
    profiler = grpc_server[1]
    profiler.started.clear()
    profiler.ended.clear()
    list(channel.unary_stream(f"/{SERVICE}/Watch")(b"2"))
    _, server = pair(spans, "Watch")
    # The trigger sees gRPC calls as POST to the full method name, as the profile tokens sign them.
    assert profiler.started == [(("POST", f"/{SERVICE}/Watch"), server, server)]
    assert profiler.ended == [server]


def test_factories_validate_options() -> None:
    with pytest.raises(ValueError, match="unknown option"):
        server_interceptor(not_an_option=1)
    with pytest.raises(ValueError, match="unknown option"):
        client_interceptor("localhost:1", not_an_option=1)


class _FakeContext:
    def peer(self) -> str:
        return "ipv6:[::1]:40000"

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return True


def test_untrusted_incoming_context_becomes_a_link(spans: InMemoryExporter) -> None:
    interceptor = server_interceptor(trust_incoming_context=False, exporter=spans, export_mode="simple")
    incoming = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    call = interceptor.begin(f"/{SERVICE}/Get", (("traceparent", incoming),), _FakeContext())
    assert call is not None
    call.finish(grpc.StatusCode.OK)
    (span,) = spans.get_finished_spans()
    assert span.parent is None
    assert [(link.context.trace_id, link.context.span_id) for link in span.links] == [
        (int("a" * 32, 16), int("b" * 16, 16))
    ]
    assert span.attributes["client.address"] == "::1" and span.attributes["client.port"] == 40000


def test_untrusted_incoming_baggage_is_dropped_as_for_http(spans: InMemoryExporter) -> None:
    interceptor = server_interceptor(trust_incoming_context=False, exporter=spans, export_mode="simple")
    incoming = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    metadata = (("traceparent", incoming), ("baggage", "tenant=mallory"))
    outer = Baggage.EMPTY.set("tenant", "local")
    with use_baggage(outer):
        call = interceptor.begin(f"/{SERVICE}/Get", metadata, _FakeContext())
        assert call is not None
        call.enter()
        assert get_baggage() == Baggage.EMPTY  # neither the caller's baggage nor the one current before
        call.exit()
        assert get_baggage() == outer
    call.finish(grpc.StatusCode.OK)
    trusted = server_interceptor(exporter=spans, export_mode="simple")
    call = trusted.begin(f"/{SERVICE}/Get", metadata, _FakeContext())
    assert call is not None
    call.enter()
    entry = get_baggage().get("tenant")
    call.exit()
    call.finish(grpc.StatusCode.OK)
    assert entry is not None and entry.value == "mallory"


class _RpcRecorder:
    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def request_started(self, request: Any) -> None:
        self.seen.append(("request_started",))

    def request_finished(self, request: Any, duration_s: float) -> None:
        self.seen.append(("request_finished",))

    def rpc_call(self, kind: str, **report: Any) -> None:
        self.seen.append((kind, report["service"], report["method"], report["grpc_status_code"], report["error_type"]))
        assert report["duration_s"] >= 0


def test_server_calls_report_rpc_call_to_observers(spans: InMemoryExporter) -> None:
    recorder = _RpcRecorder()
    interceptor = server_interceptor(exporter=spans, export_mode="simple", observers=[recorder])
    for code in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE):
        call = interceptor.begin(f"/{SERVICE}/Get", (), _FakeContext())
        assert call is not None
        call.finish(code)
        call.finish(grpc.StatusCode.INTERNAL)  # a second end (the termination callback) changes nothing
    assert recorder.seen == [
        ("server", SERVICE, "Get", 0, None),
        ("server", SERVICE, "Get", 5, None),  # not a server error (semantic conventions)
        ("server", SERVICE, "Get", 14, "UNAVAILABLE"),
    ]
