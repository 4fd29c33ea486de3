from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from c13_middleware import InMemoryExporter, Span, Tracer
from c13_middleware.export.otlp import Backoff, OTLPExporter
from tests.export.otlp.otlp_receiver import Collector, Receiver

FAST_BACKOFF = Backoff(initial=0.02, maximum=0.1)


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Collector[Any, Any]]:
    """The OTLP/HTTP receiver; the gRPC one where a test is parametrized with ``receiver="grpc"`` (indirect)."""
    if getattr(request, "param", "http") == "grpc":
        from tests.export.otlp.grpc_receiver import GRPCReceiver  # grpcio and google.rpc only where needed

        server: Collector[Any, Any] = GRPCReceiver()
    else:
        server = Receiver()
    yield server
    server.close()


@pytest.fixture
def make_exporter(receiver: Collector[Any, Any]) -> Iterator[Callable[..., OTLPExporter]]:
    """Exporters speaking ``receiver``'s protocol to it (unless told otherwise), fast backoff, shut down after the
    test."""
    made: list[OTLPExporter] = []

    def make(**options: Any) -> OTLPExporter:
        options = {"protocol": receiver.protocol, "endpoint": receiver.endpoint, "backoff": FAST_BACKOFF,
                   "environ": {}, **options}  # fmt: skip
        exporter = OTLPExporter(**options)
        made.append(exporter)
        return exporter

    yield make
    for exporter in made:
        exporter.shutdown()


@pytest.fixture
def spans(tracer: Tracer, exporter: InMemoryExporter) -> list[Span]:
    for i in range(5):
        tracer.start_span(f"span-{i}", attributes={"i": i}).end()
    return exporter.get_finished_spans()
