from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from otlp_receiver import Receiver

from c13_middleware._otlp import Backoff, OTLPExporter

FAST_BACKOFF = Backoff(initial=0.02, maximum=0.1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def make_exporter(receiver: Receiver) -> Iterator[Callable[..., OTLPExporter]]:
    """Exporters pointed at ``receiver`` (unless given an endpoint), fast backoff, shut down after the test."""
    made: list[OTLPExporter] = []

    def make(**options: Any) -> OTLPExporter:
        options.setdefault("endpoint", receiver.url)
        options.setdefault("backoff", FAST_BACKOFF)
        options.setdefault("environ", {})
        exporter = OTLPExporter(**options)
        made.append(exporter)
        return exporter

    yield make
    for exporter in made:
        exporter.shutdown()
