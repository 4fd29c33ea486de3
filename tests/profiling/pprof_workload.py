"""A workload whose time is on a known line, for reading c13's pprof output with ``go tool pprof``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

# A module-level lambda's qualname is a bare ``<lambda>``, which pprof must keep as written.
call = lambda function: function()  # noqa: E731
DOCUMENT = [{"id": i, "name": "item" * 5, "tags": list(range(10))} for i in range(2000)]


def serialize(document: object) -> int:
    size = 0
    text = json.dumps(document)  # the hot line
    size += len(text)
    return size


def run_for(seconds: float) -> int:
    def outer() -> Callable[[], int]:
        def inner() -> int:  # qualname ``run_for.<locals>.outer.<locals>.inner``
            return serialize(DOCUMENT)

        return inner

    step = outer()
    total = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        total += call(step)
    return total
