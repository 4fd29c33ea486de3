"""OTLP trace export: over HTTP, binary protobuf (with the official ``opentelemetry-proto`` messages) or JSON; or
over gRPC, the same protobuf request.

``opentelemetry-proto`` is imported only when a protobuf or gRPC exporter is built, and grpcio only when a gRPC one
is, so the core works without the ``otlp`` and ``grpc`` extras; the JSON encoding needs nothing beyond the
standard library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

if TYPE_CHECKING:
    from .config import Settings, resolve_settings
    from .exporter import DEFAULT_MAX_RETRY_TIME, OTLPExporter
    from .file import OTLPFileExporter
    from .retry import Backoff

__all__ = [
    "DEFAULT_MAX_RETRY_TIME",
    "Backoff",
    "OTLPExporter",
    "OTLPFileExporter",
    "Settings",
    "resolve_settings",
]

_EXPORTS = {
    ".config": ("Settings", "resolve_settings"),
    ".exporter": ("DEFAULT_MAX_RETRY_TIME", "OTLPExporter"),
    ".file": ("OTLPFileExporter",),
    ".retry": ("Backoff",),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
