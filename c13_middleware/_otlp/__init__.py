"""OTLP/HTTP trace export: binary protobuf (with the official ``opentelemetry-proto`` messages) or JSON.

``opentelemetry-proto`` is imported only when a protobuf exporter is built, so the core works without the
``otlp`` extra; the JSON encoding needs nothing beyond the standard library.
"""

from __future__ import annotations

from .config import Settings, resolve_settings
from .exporter import DEFAULT_MAX_RETRY_TIME, OTLPExporter
from .file import OTLPFileExporter
from .retry import Backoff

__all__ = ["DEFAULT_MAX_RETRY_TIME", "Backoff", "OTLPExporter", "OTLPFileExporter", "Settings", "resolve_settings"]
