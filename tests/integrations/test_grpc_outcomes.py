"""How a sync gRPC call ends, as its spans tell it: deadlines, unknown methods, handlers failing before they stream,
local failures on the client, and instrumentation that fails without breaking the call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from c13_middleware import InMemoryExporter, Span, SpanKind, StatusCode
from c13_middleware.integrations.grpc import client_interceptor, server_interceptor
from tests.integrations.conftest import grpc_serving

SERVICE = "shop.v1.Outcomes"


def slow(request: bytes, context: Any) -> bytes:
    time.sleep(0.3)
    return b"late"


def fails_before_streaming(request: bytes, context: Any) -> Iterator[bytes]:
    raise LookupError("no stream for you")  # a plain function: it raises before any iterator exists


def echo(request: bytes, context: Any) -> bytes:
    return request


def counted(request: bytes, context: Any) -> Iterator[bytes]:
    yield from (b"a", b"b")


@pytest.fixture(scope="module")
def module_spans() -> InMemoryExporter:
    return InMemoryExporter()


@pytest.fixture(scope="module")
def served(module_spans: InMemoryExporter) -> Iterator[tuple[str, Any]]:
    interceptor = server_interceptor(service_name="outcomes", exporter=module_spans, export_mode="simple")
    handlers = {
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
        "Broken": grpc.unary_stream_rpc_method_handler(fails_before_streaming),
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Count": grpc.unary_stream_rpc_method_handler(counted),
    }
    with grpc_serving(interceptor, SERVICE, handlers) as target:
        yield target, interceptor


@pytest.fixture
def spans(module_spans: InMemoryExporter) -> Iterator[InMemoryExporter]:
    module_spans.clear()
    yield module_spans
    module_spans.clear()


@pytest.fixture
def channel(served: tuple[str, Any], spans: InMemoryExporter) -> Iterator[grpc.Channel]:
    target = served[0]
    with grpc.insecure_channel(target) as raw:
        yield grpc.intercept_channel(raw, client_interceptor(target, exporter=spans, export_mode="simple"))


def finished(spans: InMemoryExporter, count: int, timeout: float = 5.0) -> list[Span]:
    deadline = time.monotonic() + timeout
    while len(spans.get_finished_spans()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return spans.get_finished_spans()


def by_kind(found: list[Span], kind: SpanKind) -> Span:
    return next(span for span in found if span.kind is kind)


def test_a_passed_deadline_is_deadline_exceeded_on_both_sides(channel: grpc.Channel, spans: InMemoryExporter) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(f"/{SERVICE}/Slow")(b"x", timeout=0.05)
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    found = finished(spans, 2)
    client, server = by_kind(found, SpanKind.CLIENT), by_kind(found, SpanKind.SERVER)
    # The server span ends when the RPC does (its termination callback), not when the handler returns later.
    for span in (client, server):
        assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
        assert span.status.code is StatusCode.ERROR
        assert span.attributes["error.type"] == "DEADLINE_EXCEEDED"
    assert server.parent is not None and server.parent.span_id == client.context.span_id


def test_an_unknown_method_is_unimplemented_for_the_client_and_not_traced_on_the_server(
    channel: grpc.Channel, spans: InMemoryExporter
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(f"/{SERVICE}/Nope")(b"x")
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
    (client,) = finished(spans, 1)
    time.sleep(0.05)
    assert len(spans.get_finished_spans()) == 1  # no SERVER span for a method nobody serves
    assert client.kind is SpanKind.CLIENT and client.name == f"{SERVICE}/Nope"
    assert client.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNIMPLEMENTED.value[0]
    assert client.attributes["error.type"] == "UNIMPLEMENTED"


def test_a_stream_handler_raising_before_it_streams_is_unknown_with_the_exception(
    channel: grpc.Channel, spans: InMemoryExporter
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        list(channel.unary_stream(f"/{SERVICE}/Broken")(b"x"))
    assert caught.value.code() is grpc.StatusCode.UNKNOWN
    server = by_kind(finished(spans, 2), SpanKind.SERVER)
    assert server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNKNOWN.value[0]
    assert server.status.code is StatusCode.ERROR
    assert server.attributes["error.type"] == "UNKNOWN"
    (event,) = [e for e in server.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "LookupError"
    assert event.attributes["exception.message"] == "no stream for you"


def test_a_server_span_that_cannot_start_leaves_the_calls_working_and_untraced(
    channel: grpc.Channel, spans: InMemoryExporter, served: tuple[str, Any], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    def broken(*args: Any, **kwargs: Any) -> Span:
        raise RuntimeError("tracer out of order")

    monkeypatch.setattr(served[1].core.tracer, "start_span", broken)
    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        assert channel.unary_unary(f"/{SERVICE}/Echo")(b"still works") == b"still works"
        assert list(channel.unary_stream(f"/{SERVICE}/Count")(b"")) == [b"a", b"b"]
    found = finished(spans, 2)
    time.sleep(0.05)
    assert [span.kind for span in spans.get_finished_spans()] == [SpanKind.CLIENT, SpanKind.CLIENT]
    assert all(span.attributes["rpc.grpc.status_code"] == 0 for span in found)
    assert "could not start an RPC server span" in caplog.text


def test_a_request_that_cannot_be_serialized_is_internal_on_the_client_span(
    channel: grpc.Channel, spans: InMemoryExporter
) -> None:
    def unserializable(request: Any) -> bytes:
        raise ValueError("cannot encode this request")

    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(f"/{SERVICE}/Echo", request_serializer=unserializable)(object())
    assert caught.value.code() is grpc.StatusCode.INTERNAL
    (client,) = finished(spans, 1)  # it never reached the server
    assert client.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert client.status.code is StatusCode.ERROR and client.attributes["error.type"] == "INTERNAL"


# --- the parts a real server cannot be made to show: contexts and call objects that fail -----------------------


class _BrokenContext:
    """A servicer context whose every accessor fails, as on an RPC torn down under the handler."""

    def peer(self) -> str:
        raise RuntimeError("no peer")

    def add_callback(self, callback: Callable[[], None]) -> bool:
        raise RuntimeError("no callbacks")

    def code(self) -> Any:
        raise RuntimeError("no code")

    def is_active(self) -> bool:
        raise RuntimeError("no state")

    def time_remaining(self) -> float:
        raise RuntimeError("no deadline")


def test_a_context_that_fails_everywhere_still_gives_a_finished_span(
    spans: InMemoryExporter, caplog: pytest.LogCaptureFixture
) -> None:
    interceptor = server_interceptor(exporter=spans, export_mode="simple")
    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        returned = interceptor.begin(f"/{SERVICE}/Echo", (), _BrokenContext())
        stopped = interceptor.begin(f"/{SERVICE}/Slow", (), _BrokenContext())
    assert returned is not None and stopped is not None
    assert "could not watch a gRPC call" in caplog.text
    returned.returned()  # no code, activity unknown: taken as a normal return
    stopped.terminated()()  # ended from outside, no deadline readable: the client cancelled
    assert returned.finished and stopped.finished
    done = {span.name: span for span in spans.get_finished_spans()}
    assert done[f"{SERVICE}/Echo"].attributes["rpc.grpc.status_code"] == 0
    assert done[f"{SERVICE}/Echo"].status.code is not StatusCode.ERROR
    assert done[f"{SERVICE}/Slow"].attributes["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
    assert done[f"{SERVICE}/Slow"].status.code is not StatusCode.ERROR  # not a server error
    assert all("client.address" not in span.attributes for span in done.values())


def test_a_handler_the_interceptor_cannot_rebuild_is_served_as_it_is(caplog: pytest.LogCaptureFixture) -> None:
    interceptor = server_interceptor(exporter=InMemoryExporter(), export_mode="simple")
    details = SimpleNamespace(method=f"/{SERVICE}/Echo", invocation_metadata=())
    odd = object()  # not a grpc.RpcMethodHandler
    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        assert interceptor.intercept_service(lambda _: odd, details) is odd
    assert "could not trace a gRPC handler" in caplog.text
    kindless = SimpleNamespace(unary_unary=None, stream_unary=None, unary_stream=None, stream_stream=None)
    assert interceptor.intercept_service(lambda _: kindless, details) is kindless


def _details(method: str = f"/{SERVICE}/Echo") -> Any:
    return SimpleNamespace(method=method, timeout=None, metadata=None, credentials=None, wait_for_ready=None,
                           compression=None)  # fmt: skip


def test_a_continuation_that_raises_ends_the_client_span_with_the_exception(spans: InMemoryExporter) -> None:
    interceptor = client_interceptor("127.0.0.1:1", exporter=spans, export_mode="simple")

    def continuation(details: Any, request: Any) -> Any:
        raise ConnectionError("channel closed")

    with pytest.raises(ConnectionError):
        interceptor.intercept_unary_unary(continuation, _details(), b"x")
    (span,) = spans.get_finished_spans()
    assert span.status.code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ConnectionError"
    assert "rpc.grpc.status_code" not in span.attributes


class _Outcome:
    """A call outcome as grpc hands it to an interceptor, scripted."""

    def __init__(self, code: Any, *, done: bool = False, accepts_callbacks: bool = True) -> None:
        self._code = code
        self._done = done
        self._accepts = accepts_callbacks

    def done(self) -> bool:
        return self._done

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return self._accepts

    def code(self) -> Any:
        if isinstance(self._code, Exception):
            raise self._code
        return self._code

    def exception(self) -> BaseException:
        raise grpc.FutureCancelledError()


def test_calls_that_end_before_they_can_be_followed(spans: InMemoryExporter, caplog: pytest.LogCaptureFixture) -> None:
    interceptor = client_interceptor("127.0.0.1:1", exporter=spans, export_mode="simple")
    ended = _Outcome(grpc.StatusCode.CANCELLED, accepts_callbacks=False)  # terminated between done() and add_callback
    assert interceptor.intercept_unary_stream(lambda d, r: ended, _details(f"/{SERVICE}/A"), b"") is ended
    unreadable = _Outcome(RuntimeError("no code"), done=True)
    interceptor.intercept_unary_unary(lambda d, r: unreadable, _details(f"/{SERVICE}/B"), b"")
    with caplog.at_level(logging.WARNING, logger="c13_middleware"):
        interceptor.intercept_stream_unary(lambda d, r: object(), _details(f"/{SERVICE}/C"), iter(()))
    assert "could not follow a gRPC call" in caplog.text
    done = {span.name: span for span in spans.get_finished_spans()}
    assert done[f"{SERVICE}/A"].attributes["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
    assert done[f"{SERVICE}/A"].attributes["error.type"] == "CANCELLED"
    for name in (f"{SERVICE}/B", f"{SERVICE}/C"):  # outcome unknown: ended, without a status code or an error
        assert "rpc.grpc.status_code" not in done[name].attributes
        assert done[name].status.code is not StatusCode.ERROR
