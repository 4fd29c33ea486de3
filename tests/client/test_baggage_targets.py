"""Where the current baggage goes (docs/security.md, "Baggage"): only where the trace context goes, and there only
where ``propagate_baggage_to`` (else ``propagate_to``) allows; by default nowhere. Through httpx (sync and async) and
the messaging helpers; gRPC in tests/integrations/test_grpc.py."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from c13_middleware import Baggage, ConfigError, InMemoryExporter, Tracer, use_baggage
from c13_middleware.client._messaging import inject_message, producer_span
from c13_middleware.integrations.httpx import AsyncC13Transport, C13Transport

CASES = [
    ({}, "http://api.internal/x", False),  # the default: nowhere
    ({"propagate_baggage_to": ["*"]}, "http://third.party/x", True),
    ({"propagate_baggage_to": [re.compile("")]}, "http://third.party/x", True),
    ({"propagate_baggage_to": ["api.internal"]}, "http://api.internal/x", True),
    ({"propagate_baggage_to": ["api.internal"]}, "http://third.party/x", False),
    ({"propagate_baggage_to": ["api.internal:8443"]}, "https://api.internal:8443/x", True),
    ({"propagate_to": ["api.internal"]}, "http://api.internal/x", True),  # follows propagate_to when set
    ({"propagate_to": ["api.internal"], "propagate_baggage_to": []}, "http://api.internal/x", False),
    ({"propagate_to": ["api.internal"], "propagate_baggage_to": ["*"]}, "http://third.party/x", False),  # no context
]


def handler(seen: list[httpx.Headers]) -> httpx.MockTransport:
    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200)

    return httpx.MockTransport(respond)


def assert_baggage(seen: list[httpx.Headers], sent: bool) -> None:
    (headers,) = seen
    assert headers.get("baggage") == ("user=alice" if sent else None)


@pytest.mark.parametrize(("options", "url", "sent"), CASES)
def test_httpx_sync(tracer: Tracer, options: dict[str, Any], url: str, sent: bool) -> None:
    seen: list[httpx.Headers] = []
    client = httpx.Client(transport=C13Transport(handler(seen), **options))
    with client, use_baggage(Baggage.EMPTY.set("user", "alice")), tracer.start_as_current_span("request"):
        client.get(url)
    assert_baggage(seen, sent)


@pytest.mark.parametrize(("options", "url", "sent"), CASES)
def test_httpx_async(tracer: Tracer, options: dict[str, Any], url: str, sent: bool) -> None:
    seen: list[httpx.Headers] = []

    async def main() -> None:
        async with httpx.AsyncClient(transport=AsyncC13Transport(handler(seen), **options)) as client:
            with use_baggage(Baggage.EMPTY.set("user", "alice")), tracer.start_as_current_span("request"):
                await client.get(url)

    asyncio.run(main())
    assert_baggage(seen, sent)


@pytest.mark.parametrize(
    ("options", "destination", "sent"),
    [
        ({}, "orders", False),
        ({"propagate_baggage_to": ["orders"]}, "orders", True),
        ({"propagate_baggage_to": ["orders"]}, "audit", False),
        ({"propagate_baggage_to": [re.compile("^orders\\.")]}, "orders.eu", True),
        ({"propagate_baggage_to": ["*"]}, "audit", True),
    ],
)
def test_messaging(exporter: InMemoryExporter, options: dict[str, Any], destination: str, sent: bool) -> None:
    tracer = Tracer(exporter=exporter, export_mode="simple", **options)
    produced: dict[str, str] = {}
    injected: dict[str, str] = {}
    with use_baggage(Baggage.EMPTY.set("user", "alice")):
        with producer_span("kafka", destination, produced, tracer=tracer):
            pass
        with tracer.start_as_current_span("work"):
            inject_message(injected, destination=destination)
    for headers in (produced, injected):
        assert "traceparent" in headers  # the trace context goes either way
        assert ("baggage" in headers) is sent


def test_a_wrong_rule_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="propagate_baggage_to"):
        C13Transport(propagate_baggage_to=[42])
