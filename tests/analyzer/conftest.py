"""Analyzer fixtures: the face model in-process, a pipeline runner, and a real gRPC server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from analyzer.pipeline.face_model import FaceModel
from analyzer.pipeline.run import analyze
from analyzer.server import AnalyzerServer
from skin.analyzer.v1 import analyzer_pb2_grpc
from tests.servers import service_channel


@pytest.fixture(scope="session")
def face_model() -> FaceModel:
    return FaceModel()


@pytest.fixture(scope="session")
def run_analysis(face_model: FaceModel) -> Callable[..., dict[str, Any]]:
    """Analyses photo bytes in this process, recording the progress it reports."""

    def run(
        image: bytes, real_age: int | None = 35, progress: list[Any] | None = None
    ) -> dict[str, Any]:
        def record(*event: Any) -> None:
            if progress is not None:
                progress.append(event)

        return analyze(image, real_age, face_model, record)

    return run


@pytest.fixture(scope="session")
async def analyzer_stub(
    analyzer_server: AnalyzerServer, service_token: str
) -> AsyncIterator[analyzer_pb2_grpc.AnalyzerServiceStub]:
    """A stub whose calls carry the service_role token, as the gateway's do."""
    options = {"grpc.max_send_message_length": 64 * 1024 * 1024}
    async with service_channel(analyzer_server.port, service_token, **options) as channel:
        yield analyzer_pb2_grpc.AnalyzerServiceStub(channel)
