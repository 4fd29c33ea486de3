"""The hook through which request-level consumers (metrics) see every traced server request.

Observers run on the request path: they must be cheap. An observer that raises is logged once and skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._server_request import ServerRequest


@runtime_checkable
class RequestObserver(Protocol):
    def request_started(self, request: ServerRequest) -> None:
        """The request's span was opened (``request.method``, ``request.scheme`` are known)."""

    def request_finished(self, request: ServerRequest, duration_s: float) -> None:
        """The span ended: ``request.route``, ``request.status`` and ``request.error_type`` are final."""
