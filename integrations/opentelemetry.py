"""c13 as the process's OpenTelemetry tracer provider (the ``otel`` extra: ``opentelemetry-api`` only).

``install()`` (or ``configure()``, by default when ``opentelemetry-api`` is importable) makes every
``opentelemetry-instrumentation-*`` package and every library calling ``opentelemetry.trace`` record into c13's
pipeline: one current span for both worlds, c13's samplers, processors and exporters. docs/opentelemetry.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from c13_middleware.trace._safety import log_once
from c13_middleware.trace._span import InstrumentationScope, clean_attributes
from c13_middleware.trace._tracer import get_tracer

from ._require import require

require("opentelemetry.trace", "otel")

from opentelemetry import context as otel_context, propagate, trace as otel_trace  # noqa: E402
from opentelemetry.baggage.propagation import W3CBaggagePropagator  # noqa: E402
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext  # noqa: E402
from opentelemetry.propagators.composite import CompositePropagator  # noqa: E402
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator  # noqa: E402

from ._otel_context import C13RuntimeContext  # noqa: E402
from ._otel_propagator import C13TextMapPropagator  # noqa: E402
from ._otel_tracer import BridgeTracer  # noqa: E402

__all__ = ["C13TextMapPropagator", "C13TracerProvider", "install", "installed"]

MAX_CACHED_TRACERS = 1024


class C13TracerProvider(otel_trace.TracerProvider):
    """Tracers that start c13 spans: each carries its instrumentation scope to OTLP's ``scope``."""

    def __init__(self) -> None:
        self._tracers: dict[InstrumentationScope, BridgeTracer] = {}
        self._lock = threading.Lock()

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> BridgeTracer:
        kept = tuple(clean_attributes(attributes, get_tracer().limits)[0].items()) if attributes else ()
        scope = InstrumentationScope(
            str(instrumenting_module_name or ""), str(instrumenting_library_version or ""), str(schema_url or ""), kept
        )
        tracer = self._tracers.get(scope)
        if tracer is None:
            tracer = BridgeTracer(scope)
            with self._lock:  # some code asks for a tracer per call: keep a bounded number
                if len(self._tracers) < MAX_CACHED_TRACERS:
                    tracer = self._tracers.setdefault(scope, tracer)
        return tracer

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        """What code written for the SDK's provider calls before a process freezes (serverless handlers): flushes
        c13's process default pipeline."""
        return get_tracer().force_flush(timeout_millis)


PROVIDER = C13TracerProvider()
_lock = threading.Lock()


def install() -> bool:
    """Make c13 the process's OpenTelemetry tracer provider, runtime context and global propagator. Idempotent.

    Returns True when c13 is the tracer provider. When another provider was set first (the OpenTelemetry SDK's),
    it is never replaced: c13 still shares its current span with it (one trace), logs once that it did so, and
    returns False. When ``OTEL_PYTHON_CONTEXT`` chose another runtime context, c13 changes nothing.
    """
    return _install(explicit=True)


def install_from_configure(explicit: bool) -> None:
    """``configure()``'s hook (registered by the composition root)."""
    _install(explicit)


def installed() -> bool:
    """Whether c13 is OpenTelemetry's tracer provider."""
    return otel_trace.get_tracer_provider() is PROVIDER


def _install(explicit: bool) -> bool:
    with _lock:
        if not _install_runtime_context():
            return False
        _install_propagator()
        provider = otel_trace.get_tracer_provider()
        if provider is PROVIDER:
            return True
        if isinstance(provider, otel_trace.ProxyTracerProvider):
            otel_trace.set_tracer_provider(PROVIDER)
            provider = otel_trace.get_tracer_provider()
            if provider is PROVIDER:
                return True
        log_once(
            "otel-provider-taken",
            "c13_middleware: an OpenTelemetry tracer provider is already set (%s): c13 did not replace it. Its spans "
            "share c13's current span (one trace) but go to its own processors and exporters, not c13's. To record "
            "them with c13, do not set that provider (docs/opentelemetry.md, 'Choosing').",
            type(provider).__name__,
            level=logging.WARNING if explicit else logging.INFO,
        )
        return False


def _install_runtime_context() -> bool:
    current = otel_context._RUNTIME_CONTEXT
    if isinstance(current, C13RuntimeContext):
        return True
    if type(current) is not ContextVarsRuntimeContext:
        log_once(
            "otel-runtime-context",
            "c13_middleware: OTEL_PYTHON_CONTEXT chose another OpenTelemetry runtime context (%s): c13 did not install "
            "itself as the OpenTelemetry tracer provider (docs/opentelemetry.md)",
            type(current).__name__,
        )
        return False
    # The API reads its runtime context from this module attribute on every call. The OTEL_PYTHON_CONTEXT entry
    # point is read once, when opentelemetry.context is first imported: usually before c13 is configured.
    otel_context._RUNTIME_CONTEXT = C13RuntimeContext()
    return True


def _is_api_default(textmap: object) -> bool:
    """OpenTelemetry's default propagator (``OTEL_PROPAGATORS=tracecontext,baggage``), which c13's replaces."""
    inner: Sequence[object] = getattr(textmap, "_propagators", ())
    return type(textmap) is CompositePropagator and [type(p) for p in inner] == [
        TraceContextTextMapPropagator,
        W3CBaggagePropagator,
    ]


def _install_propagator() -> None:
    textmap = propagate.get_global_textmap()
    if isinstance(textmap, C13TextMapPropagator):
        return
    if _is_api_default(textmap):
        propagate.set_global_textmap(C13TextMapPropagator())
        return
    log_once(
        "otel-textmap",
        "c13_middleware: OpenTelemetry's global propagator was configured (%s): c13 left it in place",
        type(textmap).__name__,
        level=logging.INFO,
    )
