from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from c13_middleware import Baggage, InMemoryExporter, Span, Tracer, current_span, get_baggage
from c13_middleware.profiling import ACTIVE_SESSIONS, SPAN_ACTIVATION_LISTENER
from c13_middleware.profiling._exact import exact_hooks_installed
from c13_middleware.profiling._memory import tracing_sessions
from c13_middleware.profiling._sampler import SAMPLER
from c13_middleware.server._core import active_server_request
from c13_middleware.trace._api_bridge import set_opentelemetry_installer
from c13_middleware.trace._context import SPAN_END_COLLECTOR
from c13_middleware.trace._safety import reset_log_once
from c13_middleware.trace._tracer import _reset_default_for_tests

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.routing import BaseRoute

# configure() makes c13 OpenTelemetry's tracer provider by default, and that cannot be undone in a process (FastAPI
# then adds its own spans to every request): off in the test process. tests/integrations/test_opentelemetry.py
# installs the bridge itself, restores OpenTelemetry's globals after, and checks the default in fresh processes.
set_opentelemetry_installer(None)


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


@pytest.fixture(autouse=True)
def _no_profiler_state_leaks() -> Iterator[None]:
    """After each test: sampler thread stopped, no session registered, no hook or tracing left behind."""
    switch = sys.getswitchinterval()
    yield
    assert not SAMPLER.sampling and SAMPLER.active_sessions == 0, "a profile session is still registered"
    assert SAMPLER.stop_idle(2.0), "the sampler thread did not stop"  # (it would exit by itself after linger_s)
    assert not SAMPLER.markers, "registered frames leaked"
    assert not SAMPLER.bindings, "thread bindings leaked"
    assert ACTIVE_SESSIONS.get() == (), "a session leaked into the test's context"
    assert SPAN_ACTIVATION_LISTENER.get() is None, "a span listener leaked into the test's context"
    assert SPAN_END_COLLECTOR.get() is None, "a profiled request's span collector leaked"
    assert exact_hooks_installed() == 0 and sys.getprofile() is None, "an EXACT-mode hook leaked"
    assert tracing_sessions() == 0 and not tracemalloc.is_tracing(), "tracemalloc left running"
    assert sys.getswitchinterval() == switch, "the GIL switch interval was not restored"


def traced_starlette(routes: Sequence[BaseRoute], **options: Any) -> Starlette:
    """A Starlette app of ``routes`` behind c13's Starlette middleware built with ``options``."""
    from starlette.applications import Starlette

    from c13_middleware.integrations.starlette import C13Middleware

    app = Starlette(routes=list(routes))
    app.add_middleware(C13Middleware, **options)
    return app


def assert_connected(client: Span, server: Span) -> None:
    """``server`` continues ``client``'s trace as its child (a call that crossed the wire)."""
    assert server.parent is not None and server.parent.span_id == client.context.span_id
    assert server.parent.is_remote
    assert server.context.trace_id == client.context.trace_id
