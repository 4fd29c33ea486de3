from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from c13_middleware.export.prometheus import PrometheusMetrics


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> PrometheusMetrics:
    return PrometheusMetrics(registry)
