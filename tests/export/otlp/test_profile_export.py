"""Profile reports leave the process as OTLP Profiles: the encoding, the endpoint rules and the queue."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.proto.collector.profiles.v1development.profiles_service_pb2 import ExportProfilesServiceRequest

from c13_middleware import Profiler, ProfileReport
from c13_middleware.export.otlp.encode_profiles import load_profile_messages, profile_id_bytes
from c13_middleware.export.otlp.env import profile_export_wanted
from c13_middleware.export.otlp.profile_exporter import OTLPProfileExporter, profiles_endpoint
from c13_middleware.profiling._listeners import add_report_listener, remove_report_listener
from c13_middleware.trace._resource import build_resource
from c13_middleware.trace._tracer import get_tracer
from tests.export.otlp.otlp_receiver import Receiver

ROOT = Path(__file__).resolve().parents[3]
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7


def _busy_then_sleep() -> None:
    end = time.perf_counter() + 0.03
    while time.perf_counter() < end:
        sum(range(200))
    time.sleep(0.02)


def _report() -> ProfileReport:
    with Profiler(trace_id=TRACE_ID, span_id=SPAN_ID, name="GET /work") as profiler:
        _busy_then_sleep()
    return profiler.generate_report()


@pytest.mark.parametrize(
    ("env", "grpc", "endpoint"),
    [
        ({}, False, "http://localhost:4318/v1development/profiles"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://v:4318"}, False, "http://v:4318/v1development/profiles"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://v/otlp/"}, False, "http://v/otlp/v1development/profiles"),
        ({"OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT": "http://p:1/x", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://v"}, False,
         "http://p:1/x"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://v:4317"}, True, "http://v:4317"),
    ],
)  # fmt: skip
def test_the_profiles_endpoint(env: dict[str, str], grpc: bool, endpoint: str) -> None:
    assert profiles_endpoint(env, grpc) == endpoint


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://v:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT": "http://v:4318/p"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://v:4318", "OTEL_PROFILES_EXPORTER": "none"}, False),
    ],
)
def test_when_profiles_are_exported(env: dict[str, str], wanted: bool) -> None:
    assert profile_export_wanted(env) is wanted


def test_a_report_is_sent_as_otlp_profiles_linked_to_its_span() -> None:
    receiver = Receiver()
    exporter = OTLPProfileExporter(
        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base_url}, resource=build_resource("prof-svc", None, {}, {})
    )
    try:
        add_report_listener(exporter.export)
        report = _report()  # the listener hands it to the exporter's queue
        assert exporter.force_flush(5.0)
        assert receiver.wait_for(1)
        received = receiver.received[0]
        assert received.path == "/v1development/profiles"
        assert received.headers["content-type"] == "application/x-protobuf"
        request = ExportProfilesServiceRequest.FromString(received.body)
    finally:
        remove_report_listener(exporter.export)
        exporter.shutdown()
        receiver.close()
    assert exporter.profiles_sent == 1 and exporter.profiles_dropped == 0
    table = request.dictionary
    strings = list(table.string_table)
    resource = {kv.key: kv.value.string_value for kv in request.resource_profiles[0].resource.attributes}
    assert resource["service.name"] == "prof-svc"
    wall, cpu = request.resource_profiles[0].scope_profiles[0].profiles
    assert [strings[p.sample_type.type_strindex] for p in (wall, cpu)] == ["wall", "cpu"]
    assert wall.profile_id[-8:].hex() == report.profile_id
    kvs = [table.attribute_table[i] for i in wall.attribute_indices]
    attrs = {strings[kv.key_strindex]: kv.value for kv in kvs}
    assert attrs["c13.profile.id"].string_value == report.profile_id
    assert sum(wall.samples[i].values[0] for i in range(len(wall.samples))) == pytest.approx(
        sum(s.weight_s for s in report.samples) * 1e9, rel=0.01
    )
    states = set()
    for sample in wall.samples:
        link = table.link_table[sample.link_index]
        assert int.from_bytes(link.trace_id, "big") == TRACE_ID
        assert int.from_bytes(link.span_id, "big") == SPAN_ID
        for index in sample.attribute_indices:
            kv = table.attribute_table[index]
            if strings[kv.key_strindex] == "c13.sample.state":
                states.add(kv.value.string_value)
        leaf = table.location_table[table.stack_table[sample.stack_index].location_indices[0]]
        function = table.function_table[leaf.lines[0].function_index]
        assert strings[function.filename_strindex] and leaf.lines[0].line > 0
    assert states and states <= {"cpu", "io", "wait"}
    names = {strings[f.name_strindex] for f in table.function_table}
    assert "_busy_then_sleep" in names


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    exporter = OTLPProfileExporter(
        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, max_queue_size=2, max_batch_size=2,
        schedule_delay_s=30, resource=build_resource("s", None, {}, {}), max_retry_time=0,
    )  # fmt: skip
    report = _report()
    exporter._thread = object()  # type: ignore[assignment]  # no sender thread: the queue only fills
    started = time.perf_counter()
    for _ in range(5):
        exporter.export(report)
    assert time.perf_counter() - started < 0.05
    assert exporter.profiles_dropped == 3
    exporter._queue.clear()
    exporter._thread = None
    exporter.shutdown(0.1)


def test_profiles_settings_and_the_process_resource_come_from_the_environment(tmp_path: Path) -> None:
    receiver = Receiver()
    env = {
        "OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT": f"{receiver.base_url}/p",
        "OTEL_EXPORTER_OTLP_PROFILES_HEADERS": "x-profiles-key=p1",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-traces-key=t1",  # the traces' settings are not the profiles'
    }
    exporter = OTLPProfileExporter(environ=env)  # no resource given: the process tracer's
    try:
        assert repr(exporter) == f"OTLPProfileExporter('{receiver.base_url}/p')"
        exporter.export(_report())
        assert exporter.force_flush(5.0)
        assert receiver.wait_for(1)
    finally:
        exporter.shutdown()
        exporter.shutdown()  # a second shutdown does nothing
        receiver.close()
    received = receiver.received[0]
    assert received.path == "/p"
    assert received.headers["x-profiles-key"] == "p1" and "x-traces-key" not in received.headers
    request = ExportProfilesServiceRequest.FromString(received.body)
    resource = {kv.key: kv.value.string_value for kv in request.resource_profiles[0].resource.attributes}
    assert resource["service.name"] == get_tracer().resource.attributes["service.name"]
    assert exporter.profiles_sent == 1
    exporter.export(_report())  # after shutdown: dropped and counted, not queued
    assert exporter.profiles_dropped == 1 and not exporter._queue


def test_a_failed_send_counts_the_batch_as_dropped() -> None:
    receiver = Receiver()
    receiver.reply(receiver.final())  # 400: never retried
    exporter = OTLPProfileExporter(
        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base_url}, resource=build_resource("s", None, {}, {})
    )
    try:
        exporter.export(_report())
        exporter.export(_report())
        assert exporter.force_flush(5.0)
    finally:
        exporter.shutdown()
        receiver.close()
    assert exporter.profiles_sent == 0 and exporter.profiles_dropped == 2


def test_a_flush_that_cannot_finish_in_time_says_so() -> None:
    receiver = Receiver()
    receiver.reply(receiver.hanging())
    exporter = OTLPProfileExporter(
        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base_url}, resource=build_resource("s", None, {}, {}),
        max_retry_time=0,
    )  # fmt: skip
    try:
        exporter.export(_report())
        started = time.monotonic()
        assert exporter.force_flush(0.2) is False
        assert time.monotonic() - started < 1.0
    finally:
        receiver.close()  # releases the hanging answer
        exporter.shutdown(2.0)
    assert exporter.profiles_sent + exporter.profiles_dropped == 1  # the late send still settles, once


EXIT_SCRIPT = """
import sys, time
from c13_middleware import Profiler
from c13_middleware.export.otlp.profile_exporter import OTLPProfileExporter
from c13_middleware.trace._resource import build_resource

exporter = OTLPProfileExporter(endpoint=sys.argv[1], resource=build_resource("at-exit", None, {}, {}),
                               schedule_delay_s=60)
with Profiler(name="GET /exit") as profiler:
    time.sleep(0.02)
exporter.export(profiler.generate_report())
print("queued", flush=True)
"""


def test_profiles_queued_at_exit_are_sent(tmp_path: Path) -> None:
    receiver = Receiver()
    script = tmp_path / "exit_app.py"
    script.write_text(EXIT_SCRIPT)
    try:
        done = subprocess.run(
            [sys.executable, str(script), f"{receiver.base_url}/p"], capture_output=True, text=True, timeout=30,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout == "queued\n"
        assert receiver.wait_for(1)
    finally:
        receiver.close()
    request = ExportProfilesServiceRequest.FromString(receiver.received[0].body)
    resource = {kv.key: kv.value.string_value for kv in request.resource_profiles[0].resource.attributes}
    assert resource["service.name"] == "at-exit"


@pytest.mark.parametrize(
    ("profile_id", "expected"),
    [
        ("00f067aa0ba902b7", bytes(8) + bytes.fromhex("00f067aa0ba902b7")),  # a c13 id: right-aligned
        ("4bf92f3577b34da6a3ce929d0e0e4736", bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")),
    ],
)
def test_a_hex_profile_id_is_kept_as_its_bytes(profile_id: str, expected: bytes) -> None:
    assert profile_id_bytes(profile_id) == expected


@pytest.mark.parametrize("profile_id", ["not-hex", "", "ab" * 17])  # not hex, empty, longer than 16 bytes
def test_any_other_profile_id_is_hashed_to_sixteen_stable_bytes(profile_id: str) -> None:
    first = profile_id_bytes(profile_id)
    assert len(first) == 16 and first == profile_id_bytes(profile_id) and first != bytes(16)
    assert first != profile_id_bytes(profile_id + "x")


def test_without_the_profiles_messages_the_exporter_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import opentelemetry.proto.profiles.v1development as package

    monkeypatch.setitem(sys.modules, "opentelemetry.proto.profiles.v1development.profiles_pb2", None)
    monkeypatch.delattr(package, "profiles_pb2")  # as if the installed opentelemetry-proto had no such module
    with pytest.raises(ImportError, match="OTLP profile export needs opentelemetry-proto"):
        load_profile_messages()


FORK_SCRIPT = """
import os, sys, time
from c13_middleware import Profiler
from c13_middleware.export.otlp.profile_exporter import OTLPProfileExporter
from c13_middleware.trace._resource import build_resource

def report(name):
    with Profiler(name=name) as profiler:
        time.sleep(0.01)
    return profiler.generate_report()

exporter = OTLPProfileExporter(endpoint=sys.argv[1], resource=build_resource("forked", None, {}, {}),
                               schedule_delay_s=60)
exporter.export(report("GET /parent"))  # queued in the parent; its sender thread does not survive a fork
pid = os.fork()
if pid == 0:
    assert not exporter._queue, "the parent's queue was inherited"
    exporter.export(report("GET /child"))
    ok = exporter.force_flush(5.0)
    print("child", ok, exporter.profiles_sent, flush=True)
    sys.exit(0)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0
print("parent", exporter.force_flush(5.0), exporter.profiles_sent, flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_a_forked_child_starts_with_an_empty_queue_and_its_own_sender(tmp_path: Path) -> None:
    receiver = Receiver()
    script = tmp_path / "fork_app.py"
    script.write_text(FORK_SCRIPT)
    try:
        done = subprocess.run(
            [sys.executable, str(script), f"{receiver.base_url}/p"], capture_output=True, text=True, timeout=30,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["child True 1", "parent True 1"]
        assert receiver.wait_for(2)
    finally:
        receiver.close()
    assert len(receiver.received) == 2  # each process sent its own report, once
