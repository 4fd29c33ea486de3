"""pprof: a gzip-compressed ``perftools.profiles.Profile`` (github.com/google/pprof, proto/profile.proto).

Sample types ``samples/count``, ``wall/nanoseconds`` (the default) and ``cpu/nanoseconds``; each sample carries string
labels ``span_id`` (16 hex digits), ``trace_id`` (32 hex digits), ``state`` (cpu/io/wait) and ``thread_name``, and a
numeric ``thread_id``. One mapping, named after the service, so pprof has a "main binary" to name. One function per
Python function (``start_line`` = its ``def`` line, file relative to its ``sys.path`` entry, no ``system_name``)
and one location per (function, executing line), so ``pprof -list`` puts the time on the line that spent it.
Identical (stack, labels) samples are merged, as the format allows.
"""

from __future__ import annotations

import gzip

from .._lines import display_path
from .._types import ProfileReport
from ._protobuf import Message

__all__ = ["render_pprof"]

# Field numbers of profile.proto.
_P_SAMPLE_TYPE, _P_SAMPLE, _P_MAPPING, _P_LOCATION, _P_FUNCTION, _P_STRINGS = 1, 2, 3, 4, 5, 6
_P_TIME, _P_DURATION, _P_PERIOD_TYPE, _P_PERIOD, _P_COMMENT, _P_DEFAULT_TYPE = 9, 10, 11, 12, 13, 14
_M_ID, _M_FILENAME, _M_HAS_FUNCTIONS, _M_HAS_FILENAMES, _M_HAS_LINES = 1, 5, 7, 8, 9
_MAPPING_ID = 1
_STATES = ("cpu", "io", "wait")


class _Strings:
    def __init__(self) -> None:
        self.table: list[str] = [""]
        self._index: dict[str, int] = {"": 0}

    def __call__(self, value: str) -> int:
        index = self._index.get(value)
        if index is None:
            index = self._index[value] = len(self.table)
            self.table.append(value)
        return index


def _label(strings: _Strings, key: str, value: str) -> Message:
    return Message().uint(1, strings(key)).uint(2, strings(value))


def render_pprof(report: ProfileReport) -> bytes:
    strings = _Strings()
    profile = Message()
    for kind, unit in (("samples", "count"), ("wall", "nanoseconds"), ("cpu", "nanoseconds")):
        profile.message(_P_SAMPLE_TYPE, Message().uint(1, strings(kind)).uint(2, strings(unit)))
    locations: dict[tuple[int, int], int] = {}  # (frame index, line) -> location id
    merged: dict[tuple[tuple[int, ...], int, int, int], list[int]] = {}
    for sample in report.samples:
        lines = sample.lines or tuple(report.frames[i].line for i in sample.stack)
        ids = []
        for frame_line in zip(sample.stack, lines, strict=True):
            location = locations.get(frame_line)
            if location is None:
                location = locations[frame_line] = len(locations) + 1
            ids.append(location)
        ids.reverse()  # pprof: leaf first
        key = (tuple(ids), sample.span_id, int(sample.state), sample.thread_id)
        values = merged.setdefault(key, [0, 0, 0])
        values[0] += 1
        values[1] += int(sample.weight_s * 1e9)
        values[2] += int(sample.cpu_s * 1e9)
    trace = f"{report.trace_id:032x}"
    for (location_ids, span_id, state, thread_id), values in merged.items():
        message = Message().packed(1, location_ids).packed(2, values)
        message.message(3, _label(strings, "span_id", f"{span_id:016x}"))
        message.message(3, _label(strings, "trace_id", trace))
        message.message(3, _label(strings, "state", _STATES[state]))
        message.message(3, _label(strings, "thread_name", report.thread_names.get(thread_id, str(thread_id))))
        message.message(3, Message().uint(1, strings("thread_id")).uint(3, thread_id))
        profile.message(_P_SAMPLE, message)
    mapping = Message().uint(_M_ID, _MAPPING_ID).uint(_M_FILENAME, strings(report.service or "unknown_service:python"))
    profile.message(
        _P_MAPPING, mapping.bool(_M_HAS_FUNCTIONS, True).bool(_M_HAS_FILENAMES, True).bool(_M_HAS_LINES, True)
    )
    for (index, line_number), location in locations.items():
        line = Message().uint(1, index + 1).uint(2, line_number)
        profile.message(_P_LOCATION, Message().uint(1, location).uint(2, _MAPPING_ID).message(4, line))
    for index, frame in enumerate(report.frames):
        # No system_name: pprof "demangles" a function whose system_name equals its name, and its C++ heuristics
        # strip ``<...>`` from any name holding ``<``/``>`` without ``.<`` (a bare ``<lambda>``, ``<module>`` or
        # ``<genexpr>`` became an empty name, shown as ``[service]``).
        name = strings(frame.name)
        function = Message().uint(1, index + 1).uint(2, name).uint(4, strings(display_path(frame.file)))
        profile.message(_P_FUNCTION, function.uint(5, frame.line))
    profile.uint(_P_TIME, int(report.started_at * 1e9))
    profile.uint(_P_DURATION, int(report.wall_s * 1e9))
    profile.message(_P_PERIOD_TYPE, Message().uint(1, strings("wall")).uint(2, strings("nanoseconds")))
    profile.uint(_P_PERIOD, int(report.overhead.interval_s * 1e9))
    o = report.overhead
    cost = (
        f"sampler {o.mode}: {o.achieved_rate_hz:.0f} ticks/s, CPU {o.sampling_time_s * 1000:.1f} ms "
        f"({100 * o.cpu_share:.2f}% of one CPU)"
    )
    profile.packed(
        _P_COMMENT, [strings(f"c13 profile {report.profile_id} ({report.profile_type.value})"), strings(cost)]
    )
    profile.uint(_P_DEFAULT_TYPE, strings("wall"))
    for value in strings.table:
        profile.string(_P_STRINGS, value)
    return gzip.compress(profile.encode(), mtime=0)
