"""Per-request profiling engine (framework-free).

Sampler (one thread, ``_sampler``) -> session (``_session``, ``_tracking``) -> report (``_report``, ``_advice``) ->
renderers (``renderers``): each depends only on the ones before it. See docs/profiling.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._api import Profiler, configure_sampler, finish_profile
    from ._hooks import ACTIVE_SESSIONS, SPAN_ACTIVATION_LISTENER, SpanActivationListener
    from ._server_timing import PROFILE_ID_HEADER, profile_response_headers, server_timing_value
    from ._session import ProfileSession
    from ._store import ProfileStore, default_store, get_profile, store_profile
    from ._triggers import PROFILE_HEADER, TOKEN_HEADER, ProfileDecision, ProfilingPolicy, mint_token, verify_token
    from ._types import (
        AllocationSite,
        CallNode,
        FrameKey,
        FunctionStats,
        IOEvent,
        LineStats,
        MemoryStats,
        ProfileReport,
        ProfilerOverhead,
        ProfileType,
        ProfilingThresholds,
        Recommendation,
        ReportSample,
        SampleState,
    )
    from .renderers import render_collapsed, render_pprof, render_speedscope, render_svg, render_text

__all__ = [
    "ACTIVE_SESSIONS",
    "PROFILE_HEADER",
    "PROFILE_ID_HEADER",
    "SPAN_ACTIVATION_LISTENER",
    "TOKEN_HEADER",
    "AllocationSite",
    "CallNode",
    "FrameKey",
    "FunctionStats",
    "IOEvent",
    "LineStats",
    "MemoryStats",
    "ProfileDecision",
    "ProfileReport",
    "ProfileSession",
    "ProfileStore",
    "ProfileType",
    "Profiler",
    "ProfilerOverhead",
    "ProfilingPolicy",
    "ProfilingThresholds",
    "Recommendation",
    "ReportSample",
    "SampleState",
    "SpanActivationListener",
    "configure_sampler",
    "default_store",
    "finish_profile",
    "get_profile",
    "mint_token",
    "profile_response_headers",
    "render_collapsed",
    "render_pprof",
    "render_speedscope",
    "render_svg",
    "render_text",
    "server_timing_value",
    "store_profile",
    "verify_token",
]

_EXPORTS = {
    "._api": ("Profiler", "configure_sampler", "finish_profile"),
    "._hooks": ("ACTIVE_SESSIONS", "SPAN_ACTIVATION_LISTENER", "SpanActivationListener"),
    "._server_timing": ("PROFILE_ID_HEADER", "profile_response_headers", "server_timing_value"),
    "._session": ("ProfileSession",),
    "._store": ("ProfileStore", "default_store", "get_profile", "store_profile"),
    "._triggers": (
        "PROFILE_HEADER",
        "ProfileDecision",
        "ProfilingPolicy",
        "TOKEN_HEADER",
        "mint_token",
        "verify_token",
    ),
    "._types": (
        "AllocationSite",
        "CallNode",
        "FrameKey",
        "FunctionStats",
        "IOEvent",
        "LineStats",
        "MemoryStats",
        "ProfileReport",
        "ProfileType",
        "ProfilerOverhead",
        "ProfilingThresholds",
        "Recommendation",
        "ReportSample",
        "SampleState",
    ),
    ".renderers": ("render_collapsed", "render_pprof", "render_speedscope", "render_svg", "render_text"),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
