"""Value types of the profiler: modes, thresholds and the immutable report."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
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
]


class ProfileType(str, enum.Enum):
    """What a profile collects. Every mode samples stacks; MEMORY and EXACT add to it."""

    CPU = "cpu"
    MEMORY = "memory"  # + tracemalloc allocation sites (process-wide, see docs/profiling.md)
    EXACT = "exact"  # + exact call counts and min/avg/max per Python function (sys.setprofile)

    @classmethod
    def parse(cls, value: str | ProfileType) -> ProfileType:
        if isinstance(value, ProfileType):
            return value
        return cls(value.strip().lower())


class SampleState(enum.IntEnum):
    """What the sampled thread was doing over the interval a sample stands for."""

    CPU = 0  # on CPU (per-thread CPU clock advanced at least half the interval)
    IO = 1  # off CPU, leaf frame in a socket/select/ssl/file/sleep/DB call
    WAIT = 2  # off CPU otherwise (GIL, locks, queues, unknown C calls)


@dataclass(frozen=True, slots=True)
class ProfilingThresholds:
    """The figures that turn numbers into findings. No recommendation is made below them."""

    slow_function_avg_s: float = 0.1
    frequent_calls: int = 10_000
    slow_io_s: float = 0.05
    many_slow_io: int = 3
    alloc_rate_bytes_per_s: float = 50e6
    hot_functions: int = 20
    max_recommendations: int = 10

    def __post_init__(self) -> None:
        for name in ("slow_function_avg_s", "slow_io_s", "alloc_rate_bytes_per_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        for name in ("frequent_calls", "many_slow_io", "hot_functions", "max_recommendations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")


@dataclass(frozen=True, slots=True)
class FrameKey:
    """One function: qualified name (``co_qualname`` on 3.11+, ``co_name`` on 3.10) and where it starts."""

    name: str
    file: str
    line: int

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class FunctionStats:
    """Per-function figures. Times are seconds.

    ``samples``/``self_s``/``total_s`` come from sampling. ``calls`` is exact in EXACT mode (``calls_exact``), else
    the number of distinct invocations the sampler saw (long calls are always seen, short ones mostly not), and
    ``min_s``/``avg_s``/``max_s`` are per observed invocation (sampling) or per call (exact mode). ``line`` is the
    ``def`` line; ``hot_line`` the line of the function where most sampled time was spent (0: none sampled).
    ``app_self_s``: time for which it was the innermost frame of application code on the stack (its self time plus
    that of the standard library, packages and c13 code below it); 0 for library code under application code.
    """

    name: str
    file: str
    line: int
    samples: int = 0
    self_s: float = 0.0
    total_s: float = 0.0
    cpu_s: float = 0.0
    calls: int | None = None
    calls_exact: bool = False
    min_s: float | None = None
    avg_s: float | None = None
    max_s: float | None = None
    hot_line: int = 0
    app_self_s: float = 0.0

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def hot_location(self) -> str:
        """``file:line`` of the hottest line, else of the ``def`` line."""
        return f"{self.file}:{self.hot_line or self.line}"


@dataclass(frozen=True, slots=True)
class LineStats:
    """One source line of one function. ``total_s``: sampled time with this line executing (in it or in what it
    called). ``self_s``: time for which it was the innermost line of the application's own code on the stack (what a
    library frame below it did is charged to the line that called the library)."""

    function: str
    file: str
    line: int
    samples: int
    self_s: float
    total_s: float

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class CallNode:
    """A node of the call tree (root to leaf), aggregated over samples. ``lines``: ``(line, seconds)`` of the
    function's lines executing in this node's samples, most time first."""

    frame: FrameKey
    samples: int
    total_s: float
    self_s: float
    children: tuple[CallNode, ...] = ()
    lines: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True, slots=True)
class IOEvent:
    """A wait on IO: sampled on a thread's stack, an await seen from the event loop, or recorded by a caller."""

    name: str  # what: "time.sleep", "sock.recv", "GET api.example.com"...
    duration_s: float
    where: str  # file:line of the caller
    kind: str = "io"  # socket / ssl / select / file / sleep / db / http / await / external...
    source: str = "sampled"  # "sampled", "await" or "external"
    blocking_loop: bool = False  # sampled on a thread running the request's event loop: the loop was blocked


@dataclass(frozen=True, slots=True)
class AllocationSite:
    file: str
    line: int
    size_bytes: int  # net bytes still allocated at the end of the profile
    count: int

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class MemoryStats:
    """tracemalloc figures. ``scope`` is "process": allocations of other threads and requests are included."""

    allocated_bytes: int
    freed_bytes: int
    peak_bytes: int
    scope: str = "process"
    tracemalloc_frames: int = 1


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One finding with its evidence: the function or site, where it is, and the figure against the threshold."""

    rule: str  # slow_function / frequent_calls / many_slow_io / high_allocation_rate / blocking_io_in_event_loop
    message: str
    function: str
    location: str
    value: float
    threshold: float


@dataclass(frozen=True, slots=True)
class ProfilerOverhead:
    """The profile's own cost."""

    samples: int
    ticks: int  # sampler wake-ups while this profile ran
    sampling_time_s: float  # CPU the sampler thread spent while this profile ran (shared with concurrent profiles)
    achieved_rate_hz: float  # ticks / wall time
    interval_s: float  # the sampler's interval when the profile ended
    dropped_samples: int = 0  # samples not kept once the per-profile cap was reached
    mode: str = "on-demand"  # "on-demand" (~1 kHz) or "always-on" (~100 Hz, adaptive, within max_overhead)
    cpu_share: float = 0.0  # sampling_time_s / wall_s: the sampler's CPU as a share of one CPU over the profile


@dataclass(frozen=True, slots=True)
class ReportSample:
    """One stack sample: ``stack`` indexes ``ProfileReport.frames``, root first; ``lines`` holds the line each of
    those frames was executing."""

    stack: tuple[int, ...]
    weight_s: float
    cpu_s: float
    state: SampleState
    span_id: int
    thread_id: int
    lines: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ProfileReport:
    """Everything one profile found. Immutable; renderers only read it."""

    profile_id: str
    profile_type: ProfileType
    name: str
    started_at: float  # unix time
    wall_s: float
    cpu_s: float
    io_wait_s: float
    other_wait_s: float
    trace_id: int
    span_id: int
    frames: tuple[FrameKey, ...]
    samples: tuple[ReportSample, ...]
    functions: tuple[FunctionStats, ...]  # sorted by self time, then total time
    top_functions: tuple[FunctionStats, ...]  # by app_self_s (application code first), then self and total time
    call_tree: CallNode
    slow_io: tuple[IOEvent, ...]
    memory: MemoryStats | None
    memory_hotspots: tuple[AllocationSite, ...]
    recommendations: tuple[Recommendation, ...]
    overhead: ProfilerOverhead
    notes: tuple[str, ...] = ()
    span_samples: dict[int, int] = field(default_factory=dict)
    hot_lines: tuple[LineStats, ...] = ()  # by self time, then total time
    service: str = ""  # the service the profile was taken in (the middleware's service_name)
    thread_names: dict[int, str] = field(default_factory=dict)  # thread id -> name, for the sampled threads

    @property
    def memory_scope(self) -> str | None:
        return self.memory.scope if self.memory is not None else None

    @property
    def approx_bytes(self) -> int:
        """A rough size, for the bounded store."""
        per_sample = 120 + 8 * sum(len(s.stack) for s in self.samples[:64]) // max(1, min(64, len(self.samples)))
        return 2048 + len(self.samples) * per_sample + len(self.frames) * 200 + len(self.functions) * 250
