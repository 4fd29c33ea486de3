"""What the resource says about the process: a per-process ``service.instance.id`` (a new one in a forked child,
unless the user gives one) and the semantic-conventions schema URL, in both OTLP encodings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from c13_middleware import Config, InMemoryExporter, Tracer
from c13_middleware.export.otlp.encode_json import JsonEncoder
from c13_middleware.export.otlp.encode_proto import ProtobufEncoder
from tests.export.otlp.otlp_receiver import attributes, json_attributes

SCHEMA = "https://opentelemetry.io/schemas/1.26.0"


def _finished(tracer: Tracer, exporter: InMemoryExporter) -> list:  # type: ignore[type-arg]
    tracer.start_span("s").end()
    return exporter.get_finished_spans()


def test_protobuf_has_instance_id_and_schema_urls(tracer: Tracer, exporter: InMemoryExporter) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(ProtobufEncoder().encode(_finished(tracer, exporter)))
    (resource_spans,) = request.resource_spans
    assert resource_spans.schema_url == SCHEMA
    assert [scope.schema_url for scope in resource_spans.scope_spans] == [SCHEMA]
    instance = attributes(resource_spans.resource.attributes)["service.instance.id"]
    assert uuid.UUID(instance).version == 4


def test_json_has_instance_id_and_schema_urls(tracer: Tracer, exporter: InMemoryExporter) -> None:
    (resource_spans,) = json.loads(JsonEncoder().encode(_finished(tracer, exporter)))["resourceSpans"]
    assert resource_spans["schemaUrl"] == SCHEMA
    assert [scope["schemaUrl"] for scope in resource_spans["scopeSpans"]] == [SCHEMA]
    instance = json_attributes(resource_spans["resource"]["attributes"])["service.instance.id"]
    assert instance == tracer.resource.attributes["service.instance.id"]
    assert uuid.UUID(instance).version == 4


def test_one_instance_id_per_process_and_the_users_wins() -> None:
    first = Tracer(Config.from_env(environ={}))
    second = Tracer(Config.from_env(environ={}, service_name="other"))
    assert first.resource.attributes["service.instance.id"] == second.resource.attributes["service.instance.id"]
    from_env = Tracer(Config.from_env(environ={"OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=pod-7"}))
    assert from_env.resource.attributes["service.instance.id"] == "pod-7"
    from_option = Tracer(resource_attributes={"service.instance.id": "worker-3"})
    assert from_option.resource.attributes["service.instance.id"] == "worker-3"


FORK_SCRIPT = """
import json, os, sys
from c13_middleware import InMemoryExporter, Tracer
from c13_middleware.export.otlp.encode_json import JsonEncoder

exporter = InMemoryExporter()
tracer = Tracer(exporter=exporter, export_mode="simple")
given = Tracer(resource_attributes={"service.instance.id": "mine"})
encoder = JsonEncoder()

def encoded_id():
    tracer.start_span("s").end()
    document = json.loads(encoder.encode(exporter.get_finished_spans()[-1:]))
    attrs = document["resourceSpans"][0]["resource"]["attributes"]
    return [a["value"]["stringValue"] for a in attrs if a["key"] == "service.instance.id"][0]

before = encoded_id()  # the encoder has cached the parent's resource
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(read)
    key = "service.instance.id"
    child = [tracer.resource.attributes[key], encoded_id(), given.resource.attributes[key]]
    os.write(write, json.dumps(child).encode())
    os._exit(0)
os.close(write)
os.waitpid(pid, 0)
child = json.loads(os.read(read, 4096))
print(json.dumps({"parent": [before, encoded_id()], "child": child}))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_is_another_instance() -> None:
    done = subprocess.run([sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True, timeout=60, check=True)
    seen = json.loads(done.stdout)
    parent_before, parent_after = seen["parent"]
    child_attribute, child_encoded, child_given = seen["child"]
    assert parent_before == parent_after
    assert child_attribute == child_encoded != parent_before
    assert uuid.UUID(child_attribute).version == 4
    assert child_given == "mine"  # the user's id is kept
