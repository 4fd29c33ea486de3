from __future__ import annotations

from collections.abc import Iterator

import pytest

from c13_middleware import Baggage, InMemoryExporter, Tracer, current_span, get_baggage
from c13_middleware._http_server import active_server_request
from c13_middleware._safety import reset_log_once
from c13_middleware._tracer import _reset_default_for_tests


@pytest.fixture
def exporter() -> InMemoryExporter:
    return InMemoryExporter()


@pytest.fixture
def tracer(exporter: InMemoryExporter) -> Tracer:
    """A tracer exporting synchronously into ``exporter``."""
    return Tracer(service_name="test-service", exporter=exporter, export_mode="simple")


@pytest.fixture
def options(exporter: InMemoryExporter) -> dict[str, object]:
    """Adapter options that send spans synchronously to ``exporter``."""
    return {"service_name": "test-service", "exporter": exporter, "export_mode": "simple"}


@pytest.fixture(autouse=True)
def _no_leaked_state() -> Iterator[None]:
    """Every test must leave no current span, baggage or request behind, and starts from a fresh default."""
    assert current_span() is None
    yield
    assert current_span() is None, "a span leaked into the test's context"
    assert get_baggage() == Baggage.EMPTY, "baggage leaked into the test's context"
    assert active_server_request() is None, "a server request leaked into the test's context"
    _reset_default_for_tests()
    reset_log_once()
