"""The composition root's wiring: what lower layers ask for through hooks, registered here so that no layer imports a
higher one, and imported only when first needed (a service that never profiles never loads the profiler; a process
without ``opentelemetry-api`` never imports it; the OTLP exporter loads only when the environment asks for it).
``c13_middleware/__init__.py`` imports this module once.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .server._extensions import RequestProfilerProtocol, set_request_profiler
from .trace._api_bridge import set_opentelemetry_installer
from .trace._export_hooks import register_env_exporter

if TYPE_CHECKING:
    from .trace._config import Config
    from .trace._exporters import SpanExporter


# --- composition: the server's per-request profiler -----------------------------------------------------------------
# The server layer sits below profiling and cannot import it: the profiler is registered here, and imported only when
# a middleware with profiling turned on is built (a service without profiling never loads it).


def _request_profiler(config: Config) -> RequestProfilerProtocol[Any]:
    from .profiling._server import RequestProfiler

    _export_profiles_from_env(config)
    return RequestProfiler(config)


set_request_profiler(_request_profiler)
# --- end of the per-request profiler composition --------------------------------------------------------------------

# --- composition: the OpenTelemetry API bridge ----------------------------------------------------------------------
# configure() (trace layer) cannot import integrations: it calls this installer, which imports the bridge, and with it
# opentelemetry, only when called. By default (explicit=False) a process without opentelemetry-api skips it.


def _install_opentelemetry(explicit: bool) -> None:
    if not explicit:
        try:
            if importlib.util.find_spec("opentelemetry.trace") is None:
                return
        except ImportError:  # not even the ``opentelemetry`` namespace
            return
    importlib.import_module("c13_middleware.integrations.opentelemetry").install_from_configure(explicit)


set_opentelemetry_installer(_install_opentelemetry)
# --- end of the OpenTelemetry API bridge composition ----------------------------------------------------------------

# --- composition: where spans and profiles go when the environment says (OTEL_TRACES_EXPORTER, OTLP endpoints) ------
# The trace layer reads OTEL_TRACES_EXPORTER but cannot import the OTLP exporter, and the profiler cannot import the
# export layer: both get it from here, imported only when the environment asks for OTLP (docs/export.md).


def _otlp_span_exporter(env: Mapping[str, str]) -> SpanExporter:
    from .export.otlp.env import span_exporter_from_env

    return span_exporter_from_env(env)


register_env_exporter("otlp", _otlp_span_exporter)
_profile_export_lock = threading.Lock()
_profile_export_done = False


def _export_profiles_from_env(config: Config) -> None:
    """Once per process, when the first profiling middleware is built: hand every finished report to the OTLP
    profile exporter if the environment asks for OTLP (the profiles carry that middleware's service resource)."""
    global _profile_export_done
    with _profile_export_lock:
        if _profile_export_done:
            return
        _profile_export_done = True
    from .export.otlp.env import profile_listener_from_env
    from .profiling._listeners import add_report_listener
    from .trace._resource import build_resource

    resource = build_resource(config.service_name, config.service_version, config.resource_attributes, {})
    listener = profile_listener_from_env(os.environ, resource)
    if listener is not None:
        add_report_listener(listener)


# --- end of the environment's exporters composition -----------------------------------------------------------------
