"""The request-lifecycle core through its own API: branches the adapters rarely reach."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from c13_middleware import (
    AlwaysOffSampler,
    Baggage,
    CompositePropagator,
    InMemoryExporter,
    SpanLimits,
    StatusCode,
    TraceContextPropagator,
    get_baggage,
    use_baggage,
)
from c13_middleware.server._core import RequestHead, ServerCore, active_server_request, split_host

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def start(core: ServerCore, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {"method": "GET", "path": "/p", "scheme": "https"}
    arguments.update(overrides)
    return core.start(RequestHead(**arguments))


def test_custom_propagator_is_used(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    core = ServerCore({**options, "propagator": CompositePropagator([TraceContextPropagator()])})
    request = start(core, propagation={"traceparent": [TRACEPARENT], "baggage": ["k=v"]})
    request.finish()
    (span,) = exporter.get_finished_spans()
    assert span.parent is not None and span.parent.span_id == 0xB7AD6B7169203331
    assert request._baggage == Baggage.EMPTY  # this propagator reads no baggage


def test_incoming_baggage_is_current_in_handler(options: dict[str, Any]) -> None:
    core = ServerCore(options)
    request = start(core, propagation={"baggage": ["user=alice"]})
    request.activate()
    try:
        assert get_baggage().get("user") is not None
        assert active_server_request() is request
    finally:
        request.deactivate()
        request.finish()
    assert get_baggage() == Baggage.EMPTY


def test_untrusted_context_drops_incoming_baggage_but_keeps_current(options: dict[str, Any]) -> None:
    core = ServerCore({**options, "trust_incoming_context": False})
    outer = Baggage.EMPTY.set("tenant", "t1")
    with use_baggage(outer):
        request = start(core, propagation={"baggage": ["user=mallory"]})
        request.activate()
        assert get_baggage() == Baggage.EMPTY  # the caller's baggage is not trusted either
        request.deactivate()
        assert get_baggage() == outer
        request.finish()


def test_long_values_are_cut_to_the_limit(exporter: InMemoryExporter) -> None:
    core = ServerCore(
        {"exporter": exporter, "export_mode": "simple", "span_limits": SpanLimits(max_attribute_length=8)}
    )
    request = start(core, path="/" + "a" * 50, method="SUPERLONGMETHOD", query="q=" + "z" * 50, user_agent="u" * 20)
    request.set_route("/route/that/is/long")
    request.finish()
    (span,) = exporter.get_finished_spans()
    assert span.attributes["url.path"] == "/aaaaaaa"
    assert span.attributes["http.request.method_original"] == "SUPERLON"
    assert span.attributes["url.query"] == "q=zzzzzz"
    assert span.attributes["user_agent.original"] == "uuuuuuuu"
    assert span.attributes["http.route"] == "/route/t"


def test_start_failure_is_swallowed(options: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    core = ServerCore(options)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tracer bug")

    core._own_tracer = core.tracer
    core.tracer.start_trusted = broken  # type: ignore[method-assign]
    assert start(core) is None
    assert any("could not start the request span" in r.getMessage() for r in caplog.records)


def test_query_redaction_rules(options: dict[str, Any]) -> None:
    core = ServerCore(options)
    assert core.redact_query("a=1&Token=x&sig=y&flag") == "a=1&Token=REDACTED&sig=REDACTED&flag"
    assert core.redact_query("a=1") == "a=1"
    plain = ServerCore({**options, "sensitive_query_params": []})
    assert plain.redact_query("token=x") == "token=x"


@pytest.mark.parametrize(
    ("host", "scheme", "expected"),
    [
        ("example.com", "https", ("example.com", 443)),
        ("example.com", "http", ("example.com", 80)),
        ("example.com:8443", "https", ("example.com", 8443)),
        ("example.com:notaport", "http", ("example.com", None)),
        ("[::1]", "http", ("::1", 80)),
        ("[2001:db8::1]:9000", "http", ("2001:db8::1", 9000)),
        ("[broken", "http", ("[broken", 80)),
        ("example.com:99999999", "http", ("example.com", None)),
    ],
)
def test_split_host(host: str, scheme: str, expected: tuple[str, int | None]) -> None:
    assert split_host(host, scheme) == expected


def test_route_on_dropped_span_is_kept_on_request_only(exporter: InMemoryExporter) -> None:
    core = ServerCore({"exporter": exporter, "export_mode": "simple", "sampler": AlwaysOffSampler()})
    request = start(core)
    request.set_route("/r")
    request.response_started(500)
    request.finish()
    assert request.route == "/r" and request.status == 500
    assert exporter.get_finished_spans() == []
    assert request.response_headers() == []


def test_error_type_sources(options: dict[str, Any]) -> None:
    core = ServerCore(options)
    ok = start(core)
    ok.response_started(404)
    assert ok.error_type is None
    failed = start(core)
    failed.record_exception(KeyError("k"), escaped=False)
    assert failed.error_type is None  # handled: the response's status decides
    failed.response_started(500)
    assert failed.span.status.code is StatusCode.ERROR and failed.error_type == "KeyError"
    for request in (ok, failed):
        request.finish()


def test_deactivate_from_another_context_is_harmless(options: dict[str, Any]) -> None:
    core = ServerCore(options)
    request = start(core)

    async def main() -> None:
        request.activate()

        async def elsewhere() -> None:
            request.deactivate()

        await asyncio.create_task(elsewhere())

    asyncio.run(main())
    request.deactivate()  # second call: nothing left to do
    request.finish()
    request.finish()


def test_hostile_header_sizes_are_absent_not_errors(options: dict[str, Any], exporter: InMemoryExporter) -> None:
    from c13_middleware.propagation._fields import _tracestate

    core = ServerCore(options)
    _tracestate.cache_clear()
    huge_state = ",".join(f"k{i}=v" for i in range(5000))
    huge_baggage = ",".join(f"k{i}=v" for i in range(5000))
    request = start(
        core,
        propagation={
            "traceparent": [TRACEPARENT + "x" * 100_000],
            "tracestate": [huge_state],
            "baggage": [huge_baggage],
        },
        user_agent="u" * 100_000,
    )
    request.finish()
    (span,) = exporter.get_finished_spans()
    assert span.parent is None  # an over-long version-00 traceparent is invalid
    assert len(str(span.attributes["user_agent.original"])) == 4096
    assert len(request._baggage) == 64  # the spec's member limit
    good = start(core, propagation={"traceparent": [TRACEPARENT], "tracestate": [huge_state]})
    good.finish()
    assert good.span.parent is not None and not good.span.parent.trace_state  # > 32 members: discarded
    assert _tracestate.cache_info().currsize == 0  # never cached


def test_configure_after_the_middleware_is_built_is_followed(exporter: InMemoryExporter) -> None:
    from c13_middleware import configure

    core = ServerCore({"exclude_paths": ["/health"]})  # built before configure, e.g. C13(app) at import
    configure(exporter=exporter, export_mode="simple")
    start(core).finish()
    assert len(exporter.get_finished_spans()) == 1


def test_pipeline_options_give_the_middleware_its_own_tracer(exporter: InMemoryExporter) -> None:
    from c13_middleware import InMemoryExporter as Memory, configure

    core = ServerCore({"exporter": exporter, "export_mode": "simple"})
    other = Memory()
    configure(exporter=other, export_mode="simple")
    start(core).finish()
    assert len(exporter.get_finished_spans()) == 1 and other.get_finished_spans() == []


def test_a_failing_span_end_is_logged_once_and_the_request_still_finishes(
    exporter: InMemoryExporter, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from c13_middleware import Span

    finished: list[float] = []

    class Observer:
        def request_started(self, request: Any) -> None:
            pass

        def request_finished(self, request: Any, duration_s: float) -> None:
            finished.append(duration_s)

    def broken_end(self: Span, end_time: int | None = None) -> None:
        raise RuntimeError("exporter bug")

    core = ServerCore({"exporter": exporter, "export_mode": "simple", "observers": [Observer()]})
    monkeypatch.setattr(Span, "end", broken_end)
    for _ in range(2):
        request = start(core)
        request.finish()
        assert request.finished
    assert finished == [0.0, 0.0]  # no end time: no made-up duration
    assert len([r for r in caplog.records if "ending the request span failed" in r.getMessage()]) == 1
