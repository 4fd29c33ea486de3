"""Profile reports as an OTLP ``ExportProfilesServiceRequest`` (``opentelemetry.proto.profiles.v1development``).

One request carries a batch of reports with one shared dictionary. Each report becomes two ``Profile`` messages
with the same ``profile_id``: ``wall/nanoseconds`` (the time each sample stands for) and ``cpu/nanoseconds`` (the
CPU time within it). Every sample links to its trace and span (``link_table``) and carries the attributes
``thread.id`` and ``c13.sample.state`` (``cpu``, ``io`` or ``wait``); identical (stack, span, state, thread) samples
are merged. One location and one function per Python function; the line is where the function starts, as in the
report. Profile attributes: ``c13.profile.id`` (the id of ``X-C13-Profile-Id``), ``c13.profile.type``,
``c13.profile.name``, ``c13.profile.trace_id``/``c13.profile.span_id`` (the profiled span: a ``Profile`` has no
link of its own, and a short request may have no sample to carry one) and ``c13.profile.cpu_s``/``io_wait_s``/
``other_wait_s``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from .proto_values import INSTALL_HINT, any_value

if TYPE_CHECKING:
    from ...trace._resource import Resource

CONTENT_TYPE = "application/x-protobuf"
STATES = ("cpu", "io", "wait")


# What is read of a ``profiling.ReportLike``: the export layer sits beside profiling and cannot import it.
class FrameLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...


class SampleLike(Protocol):
    @property
    def stack(self) -> tuple[int, ...]: ...  # indexes of ``frames``, root first
    @property
    def weight_s(self) -> float: ...
    @property
    def cpu_s(self) -> float: ...
    @property
    def state(self) -> int: ...  # 0 cpu, 1 io, 2 wait
    @property
    def span_id(self) -> int: ...
    @property
    def thread_id(self) -> int: ...


class OverheadLike(Protocol):
    @property
    def interval_s(self) -> float: ...


class ReportLike(Protocol):
    @property
    def profile_id(self) -> str: ...
    @property
    def profile_type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def started_at(self) -> float: ...
    @property
    def wall_s(self) -> float: ...
    @property
    def cpu_s(self) -> float: ...
    @property
    def io_wait_s(self) -> float: ...
    @property
    def other_wait_s(self) -> float: ...
    @property
    def trace_id(self) -> int: ...
    @property
    def span_id(self) -> int: ...
    @property
    def frames(self) -> Sequence[FrameLike]: ...
    @property
    def samples(self) -> Sequence[SampleLike]: ...
    @property
    def overhead(self) -> OverheadLike: ...


SCOPE_NAME = "c13_middleware.profiling"


def load_profile_messages() -> Any:
    try:
        from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2
        from opentelemetry.proto.profiles.v1development import profiles_pb2
    except ImportError as exc:
        raise ImportError(f"OTLP profile export needs opentelemetry-proto: {INSTALL_HINT}") from exc
    if "stack_table" not in profiles_pb2.ProfilesDictionary.DESCRIPTOR.fields_by_name:  # the 2025 message layout
        raise ImportError(f"OTLP profile export needs a newer opentelemetry-proto (1.45 is tested): {INSTALL_HINT}")
    return profiles_service_pb2, profiles_pb2


def profile_id_bytes(profile_id: str) -> bytes:
    """The 16-byte ``profile_id`` for a c13 id (16 hex digits), right-aligned; any other id is hashed."""
    try:
        raw = bytes.fromhex(profile_id)
    except ValueError:
        raw = b""
    if not 0 < len(raw) <= 16:
        import hashlib

        raw = hashlib.blake2b(profile_id.encode("utf-8", "replace"), digest_size=16).digest()
    return raw.rjust(16, b"\0")


K = TypeVar("K", bound=Hashable)


class _Table(Generic[K]):
    """An interning table whose index 0 is the zero value, as the dictionary requires."""

    def __init__(self, zero: K) -> None:
        self.items: list[K] = [zero]
        self._index: dict[K, int] = {zero: 0}

    def __call__(self, item: K) -> int:
        index = self._index.get(item)
        if index is None:
            index = self._index[item] = len(self.items)
            self.items.append(item)
        return index


class ProfileEncoder:
    content_type = CONTENT_TYPE

    def __init__(self) -> None:
        self._service, self._pb = load_profile_messages()

    def encode_counted(self, batch: Sequence[tuple[ReportLike, Resource]]) -> tuple[bytes, int]:
        """The span exporter's entry point (``(body, items left out)``): a batch of profiles is encoded whole or, on
        an error, fails whole."""
        return self.encode(batch), 0

    def encode(self, batch: Sequence[tuple[ReportLike, Resource]]) -> bytes:
        pb = self._pb
        strings: _Table[str] = _Table("")
        functions: _Table[tuple[int, int, int]] = _Table((0, 0, 0))
        locations: _Table[tuple[int, int]] = _Table((0, 0))
        stacks: _Table[tuple[int, ...]] = _Table(())
        links: _Table[tuple[bytes, bytes]] = _Table((b"", b""))
        attributes: _Table[tuple[str, object]] = _Table(("", ""))
        resources: dict[int, tuple[Resource, list[Any]]] = {}
        for report, resource in batch:
            profiles = resources.setdefault(id(resource), (resource, []))[1]
            profiles.extend(self._profiles(report, strings, functions, locations, stacks, links, attributes))
        dictionary = pb.ProfilesDictionary(
            string_table=strings.items,
            function_table=[
                pb.Function(name_strindex=n, system_name_strindex=n, filename_strindex=f, start_line=line)
                for n, f, line in functions.items
            ],
            location_table=[
                pb.Location(lines=[pb.Line(function_index=fn, line=line)] if fn else []) for fn, line in locations.items
            ],
            stack_table=[pb.Stack(location_indices=list(s)) for s in stacks.items],
            link_table=[pb.Link(trace_id=t, span_id=s) for t, s in links.items],
            attribute_table=[self._attribute(strings, kv) for kv in attributes.items],
            mapping_table=[pb.Mapping()],
        )
        request = self._service.ExportProfilesServiceRequest(dictionary=dictionary)
        for resource, profiles in resources.values():
            rp = request.resource_profiles.add()
            for key, value in resource.attributes.items():
                rp.resource.attributes.add(key=key, value=any_value(value))
            scope = rp.scope_profiles.add()
            scope.scope.name = SCOPE_NAME
            scope.profiles.extend(profiles)
        return bytes(request.SerializeToString())

    def _attribute(self, strings: _Table[str], kv: tuple[str, object]) -> Any:
        key, value = kv
        if not key:
            return self._pb.KeyValueAndUnit()
        return self._pb.KeyValueAndUnit(key_strindex=strings(key), value=any_value(value))

    def _profiles(
        self,
        report: ReportLike,
        strings: _Table[str],
        functions: _Table[tuple[int, int, int]],
        locations: _Table[tuple[int, int]],
        stacks: _Table[tuple[int, ...]],
        links: _Table[tuple[bytes, bytes]],
        attributes: _Table[tuple[str, object]],
    ) -> list[Any]:
        pb = self._pb
        frame_locations = [
            locations((functions((strings(f.name), strings(f.file), f.line)), f.line)) for f in report.frames
        ]
        trace = report.trace_id.to_bytes(16, "big") if report.trace_id else b""
        merged: dict[tuple[int, int, int, int], list[int]] = {}
        for sample in report.samples:
            stack = stacks(tuple(frame_locations[i] for i in reversed(sample.stack)))  # leaf first
            link = links((trace, sample.span_id.to_bytes(8, "big"))) if trace and sample.span_id else 0
            thread = attributes(("thread.id", sample.thread_id))
            key = (stack, link, thread, attributes(("c13.sample.state", STATES[sample.state])))
            values = merged.setdefault(key, [0, 0])
            values[0] += int(sample.weight_s * 1e9)
            values[1] += int(sample.cpu_s * 1e9)
        profile_attrs = [
            attributes(kv)
            for kv in (
                ("c13.profile.id", report.profile_id),
                ("c13.profile.type", str(getattr(report.profile_type, "value", report.profile_type))),
                ("c13.profile.name", report.name),
                ("c13.profile.trace_id", trace.hex()),
                ("c13.profile.span_id", f"{report.span_id:016x}" if report.span_id else ""),
                ("c13.profile.cpu_s", round(report.cpu_s, 6)),
                ("c13.profile.io_wait_s", round(report.io_wait_s, 6)),
                ("c13.profile.other_wait_s", round(report.other_wait_s, 6)),
            )
        ]
        out = []
        for column, kind in enumerate(("wall", "cpu")):
            profile = pb.Profile(
                sample_type=pb.ValueType(type_strindex=strings(kind), unit_strindex=strings("nanoseconds")),
                time_unix_nano=int(report.started_at * 1e9),
                duration_nano=int(report.wall_s * 1e9),
                period_type=pb.ValueType(type_strindex=strings("wall"), unit_strindex=strings("nanoseconds")),
                period=int(report.overhead.interval_s * 1e9),
                profile_id=profile_id_bytes(report.profile_id),
                attribute_indices=profile_attrs,
            )
            for (stack, link, thread_attr, state_attr), values in merged.items():
                profile.samples.add(
                    stack_index=stack, link_index=link, attribute_indices=[thread_attr, state_attr],
                    values=[values[column]],
                )  # fmt: skip
            out.append(profile)
        return out


__all__ = ["CONTENT_TYPE", "ProfileEncoder", "ReportLike", "load_profile_messages", "profile_id_bytes"]
