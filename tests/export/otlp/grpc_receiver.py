"""A real local OTLP/gRPC receiver for the export tests: a ``grpc.server`` with the trace service's Export method,
which decodes requests with the official messages, records them and answers as scripted."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.export.otlp.otlp_receiver import Collector

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
Code = grpc.StatusCode


@dataclass
class Answer:
    code: grpc.StatusCode = Code.OK
    details: str = ""
    retry_info: bool = False  # a RetryInfo in the status details (the grpc-status-details-bin trailer)
    retry_delay: float | None = None  # its retry_delay, in seconds
    response: ExportTraceServiceResponse = field(default_factory=ExportTraceServiceResponse)
    hang: bool = False  # wait until the receiver is closed (or 30 s) before answering


@dataclass
class Call:
    request: ExportTraceServiceRequest
    metadata: dict[str, Any]
    at: float  # time.monotonic() on arrival

    def proto(self) -> ExportTraceServiceRequest:
        return self.request


class GRPCReceiver(Collector[Call, Answer]):
    protocol = "grpc"

    def __init__(
        self, credentials: grpc.ServerCredentials | None = None, options: Sequence[tuple[str, Any]] = ()
    ) -> None:
        super().__init__(Answer())
        method = grpc.unary_unary_rpc_method_handler(
            self._export,
            request_deserializer=ExportTraceServiceRequest.FromString,
            response_serializer=ExportTraceServiceResponse.SerializeToString,
        )
        handler = grpc.method_handlers_generic_handler(SERVICE, {"Export": method})
        self.server = grpc.server(ThreadPoolExecutor(max_workers=4), handlers=[handler], options=list(options))
        address = "127.0.0.1:0"
        if credentials is None:
            self.port = self.server.add_insecure_port(address)
        else:
            self.port = self.server.add_secure_port(address, credentials)
        self.server.start()
        self.endpoint = self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.release.set()
        self.server.stop(0).wait(5)

    def retryable(self, delay: int | None = None) -> Answer:
        return Answer(Code.UNAVAILABLE, "restarting", retry_info=delay is not None, retry_delay=delay)

    def retryable_answers(self) -> list[Answer]:
        codes = [Code.CANCELLED, Code.DEADLINE_EXCEEDED, Code.ABORTED, Code.OUT_OF_RANGE, Code.UNAVAILABLE]
        return [Answer(code) for code in [*codes, Code.DATA_LOSS]]

    def final(self) -> Answer:
        return Answer(Code.INVALID_ARGUMENT, "bad span", retry_info=True, retry_delay=0)

    def final_answers(self) -> list[Answer]:
        codes = [Code.INVALID_ARGUMENT, Code.UNKNOWN, Code.NOT_FOUND, Code.PERMISSION_DENIED, Code.UNAUTHENTICATED]
        return [Answer(code) for code in [*codes, Code.INTERNAL, Code.UNIMPLEMENTED]]

    def hanging(self) -> Answer:
        return Answer(hang=True)

    def partial_success(self, rejected: int, message: str, *, as_json: bool = False) -> Answer:
        partial = ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
        return Answer(response=ExportTraceServiceResponse(partial_success=partial))

    def _export(self, request: ExportTraceServiceRequest, context: grpc.ServicerContext) -> ExportTraceServiceResponse:
        answer = self.next_answer(Call(request, dict(context.invocation_metadata()), time.monotonic()))
        if answer.hang:
            self.release.wait(30)
        if answer.code is not Code.OK:
            if answer.retry_info:
                info = RetryInfo()
                if answer.retry_delay is not None:
                    info.retry_delay.FromTimedelta(timedelta(seconds=answer.retry_delay))
                status = Status(code=answer.code.value[0], message=answer.details)
                status.details.add().Pack(info)
                context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
            context.abort(answer.code, answer.details)
        return answer.response
