"""AnalyzerService handlers: validate the request, stream the pool's events as protobuf."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from pydantic import ValidationError

from analyzer.routine.engine import recommend
from analyzer.workers import AnalysisPool
from skin.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from skin.contracts import declared_age_problem
from skin.errors import InvalidArgument
from skin.intake import Intake
from skin.structs import compact_json, request_document, to_struct

logger = logging.getLogger(__name__)
STAGE_TO_PROTO = {
    "decode": analyzer_pb2.ANALYSIS_STAGE_DECODE,
    "quality": analyzer_pb2.ANALYSIS_STAGE_QUALITY,
    "landmarks": analyzer_pb2.ANALYSIS_STAGE_LANDMARKS,
    "regions": analyzer_pb2.ANALYSIS_STAGE_REGIONS,
    "metrics": analyzer_pb2.ANALYSIS_STAGE_METRICS,
    "scores": analyzer_pb2.ANALYSIS_STAGE_SCORES,
}


RESULT_ENCODINGS = frozenset(analyzer_pb2.ResultEncoding.values())


class AnalyzerServicer(analyzer_pb2_grpc.AnalyzerServiceServicer):
    def __init__(self, pool: AnalysisPool) -> None:
        self._pool = pool

    async def AnalyzeFace(
        self, request: analyzer_pb2.AnalyzeFaceRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[analyzer_pb2.AnalyzeFaceResponse]:
        if not request.image:
            raise InvalidArgument("image", "is required: the photo's JPEG, PNG or WebP bytes")
        real_age = request.real_age if request.HasField("real_age") else None
        if (problem := declared_age_problem(real_age)) is not None:
            raise InvalidArgument("real_age", problem)
        encoding = request.result_encoding
        if encoding not in RESULT_ENCODINGS:
            raise InvalidArgument("result_encoding", "must be STRUCT or JSON")
        started = time.perf_counter()
        async for kind, payload in self._pool.run(request.image, real_age):
            if kind == "progress":
                stage, fraction, message = payload
                yield analyzer_pb2.AnalyzeFaceResponse(
                    progress=analyzer_pb2.AnalysisProgress(
                        stage=STAGE_TO_PROTO[stage], fraction=fraction, message=message
                    )
                )
            else:
                # One line per analysis: what an operator counts, per replica, to see the load
                # spread (and what the scaling test counts).
                logger.info(
                    "analysis done in %.0f ms (%d bytes)",
                    1e3 * (time.perf_counter() - started),
                    len(request.image),
                )
                if encoding == analyzer_pb2.RESULT_ENCODING_JSON:
                    yield analyzer_pb2.AnalyzeFaceResponse(result_json=compact_json(payload))
                else:
                    yield analyzer_pb2.AnalyzeFaceResponse(result=to_struct(payload))

    async def RecommendRoutine(
        self, request: analyzer_pb2.RecommendRoutineRequest, context: grpc.aio.ServicerContext
    ) -> analyzer_pb2.RecommendRoutineResponse:
        analysis = _required(request, "analysis", "is required: the AnalyzeFace result")
        raw_intake = _required(request, "intake", "is required: the intake form")
        real_age = request.real_age if request.HasField("real_age") else None
        if (problem := declared_age_problem(real_age)) is not None:
            raise InvalidArgument("real_age", problem)
        if request.routine_encoding not in RESULT_ENCODINGS:
            raise InvalidArgument("routine_encoding", "must be STRUCT or JSON")
        if not isinstance(analysis.get("concerns"), dict):
            raise InvalidArgument("analysis.concerns", "is required: the analysis' concern scores")
        intake = parse_intake(raw_intake)
        routine = recommend(analysis, intake, real_age)
        if request.routine_encoding == analyzer_pb2.RESULT_ENCODING_JSON:
            return analyzer_pb2.RecommendRoutineResponse(routine_json=routine.model_dump_json())
        return analyzer_pb2.RecommendRoutineResponse(
            routine=to_struct(routine.model_dump(mode="json"))
        )


def _required(request: analyzer_pb2.RecommendRoutineRequest, field: str, missing: str) -> Any:
    """A JSON object sent as a Struct or, in `<field>_json`, as text (not both)."""
    found = request_document(request, field)
    if found is None:
        raise InvalidArgument(field, missing)
    return found[0]


def parse_intake(raw: dict[str, Any]) -> Intake:
    """The intake, or INVALID_ARGUMENT naming every bad field (`intake.<field>`)."""
    try:
        return Intake.model_validate(raw)
    except ValidationError as exc:
        problems = [
            ("intake." + ".".join(str(part) for part in error["loc"]), error["msg"])
            for error in exc.errors()
        ]
        raise InvalidArgument.for_fields(problems) from exc
