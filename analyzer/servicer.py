"""AnalyzerService handlers: validate the request, stream the pool's events as protobuf."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from google.protobuf import struct_pb2

from analyzer.workers import AnalysisPool
from skin.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from skin.errors import InvalidArgument

STAGE_TO_PROTO = {
    "decode": analyzer_pb2.ANALYSIS_STAGE_DECODE,
    "quality": analyzer_pb2.ANALYSIS_STAGE_QUALITY,
    "landmarks": analyzer_pb2.ANALYSIS_STAGE_LANDMARKS,
    "regions": analyzer_pb2.ANALYSIS_STAGE_REGIONS,
    "metrics": analyzer_pb2.ANALYSIS_STAGE_METRICS,
    "scores": analyzer_pb2.ANALYSIS_STAGE_SCORES,
}


class AnalyzerServicer(analyzer_pb2_grpc.AnalyzerServiceServicer):
    def __init__(self, pool: AnalysisPool) -> None:
        self._pool = pool

    async def AnalyzeFace(
        self, request: analyzer_pb2.AnalyzeFaceRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[analyzer_pb2.AnalyzeFaceResponse]:
        if not request.image:
            raise InvalidArgument("image", "is required: the photo's JPEG, PNG or WebP bytes")
        real_age = request.real_age if request.HasField("real_age") else None
        if real_age is not None and not 0 <= real_age <= 130:
            raise InvalidArgument("real_age", "must be between 0 and 130 years")
        async for kind, payload in self._pool.run(request.image, real_age):
            if kind == "progress":
                stage, fraction, message = payload
                yield analyzer_pb2.AnalyzeFaceResponse(
                    progress=analyzer_pb2.AnalysisProgress(
                        stage=STAGE_TO_PROTO[stage], fraction=fraction, message=message
                    )
                )
            else:
                result = struct_pb2.Struct()
                result.update(payload)
                yield analyzer_pb2.AnalyzeFaceResponse(result=result)
