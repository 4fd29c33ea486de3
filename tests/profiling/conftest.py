from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Iterator

import pytest

from c13_middleware._profiling import ACTIVE_SESSIONS, SPAN_ACTIVATION_LISTENER
from c13_middleware._profiling._exact import exact_hooks_installed
from c13_middleware._profiling._memory import tracing_sessions
from c13_middleware._profiling._sampler import SAMPLER


@pytest.fixture(autouse=True)
def _no_profiler_state_leaks() -> Iterator[None]:
    """After each test: sampler thread stopped, no session registered, no hook or tracing left behind."""
    switch = sys.getswitchinterval()
    yield
    assert not SAMPLER.sampling and SAMPLER.active_sessions == 0, "a profile session is still registered"
    assert SAMPLER.stop_idle(2.0), "the sampler thread did not stop"  # (it would exit by itself after linger_s)
    assert not SAMPLER.markers, "registered frames leaked"
    assert not SAMPLER.bindings, "thread bindings leaked"
    assert ACTIVE_SESSIONS.get() == (), "a session leaked into the test's context"
    assert SPAN_ACTIVATION_LISTENER.get() is None, "a span listener leaked into the test's context"
    assert exact_hooks_installed() == 0 and sys.getprofile() is None, "an EXACT-mode hook leaked"
    assert tracing_sessions() == 0 and not tracemalloc.is_tracing(), "tracemalloc left running"
    assert sys.getswitchinterval() == switch, "the GIL switch interval was not restored"
