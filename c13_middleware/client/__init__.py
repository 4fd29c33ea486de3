"""Outgoing calls: CLIENT spans for HTTP and RPC clients, context injection, and messaging helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._messaging import consumer_span, extract_message, inject_message, producer_span

__all__ = [
    "consumer_span",
    "extract_message",
    "inject_message",
    "producer_span",
]

_EXPORTS = {
    "._messaging": ("consumer_span", "extract_message", "inject_message", "producer_span"),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
