"""AnalyzerService over real gRPC: streaming, refusals, limits, cancellation, reflection."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import grpc
import jsonschema
import pytest
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from analyzer.server import build_server
from analyzer.workers import AnalysisPool
from reliability.stack import children
from skin.analyzer.v1 import analyzer_pb2 as pb
from skin.analyzer.v1 import analyzer_pb2_grpc
from skin.contracts import MAX_DECLARED_AGE, MIN_DECLARED_AGE
from storage.embedded_postgres import free_port
from tests.analyzer import photos
from tests.analyzer.test_measurements import SCHEMA
from tests.analyzer.test_routine_examples import ROUTINE_SCHEMA
from tests.grpc_assertions import rpc_error
from tests.servers import analyzer_settings, service_channel, wait_serving

GRPCURL = Path(sys.executable).parent / "grpcurl"


@pytest.fixture(scope="module")
def face_jpeg() -> bytes:
    return photos.encode(photos.astronaut())


async def collect(
    stub, image: bytes, real_age: int | None = 40, encoding: Any = pb.RESULT_ENCODING_UNSPECIFIED
) -> list[pb.AnalyzeFaceResponse]:
    request = pb.AnalyzeFaceRequest(image=image, result_encoding=encoding)
    if real_age is not None:
        request.real_age = real_age
    return [event async for event in stub.AnalyzeFace(request, timeout=60)]


async def test_analyze_streams_progress_then_result(analyzer_stub, face_jpeg):
    events = await collect(analyzer_stub, face_jpeg)
    progress = [e.progress for e in events[:-1]]
    assert all(e.HasField("progress") for e in events[:-1]) and events[-1].HasField("result")
    assert [p.stage for p in progress] == [
        pb.ANALYSIS_STAGE_DECODE, pb.ANALYSIS_STAGE_QUALITY, pb.ANALYSIS_STAGE_LANDMARKS,
        pb.ANALYSIS_STAGE_REGIONS, pb.ANALYSIS_STAGE_METRICS, pb.ANALYSIS_STAGE_SCORES,
    ]  # fmt: skip
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    result = json_format.MessageToDict(events[-1].result)
    jsonschema.validate(result, SCHEMA)
    assert result["ageing_signs"]["declared_age"] == 40


async def test_same_bytes_same_result_across_workers(analyzer_stub, face_jpeg):
    first, second = await asyncio.gather(
        collect(analyzer_stub, face_jpeg), collect(analyzer_stub, face_jpeg)
    )
    a, b = (json_format.MessageToDict(events[-1].result) for events in (first, second))
    a.pop("timings_ms"), b.pop("timings_ms")
    assert a == b


async def test_the_result_as_json_text_is_the_same_result(analyzer_stub, face_jpeg):
    structs, text = await asyncio.gather(
        collect(analyzer_stub, face_jpeg),
        collect(analyzer_stub, face_jpeg, encoding=pb.RESULT_ENCODING_JSON),
    )
    assert text[-1].WhichOneof("event") == "result_json"
    assert [e.WhichOneof("event") for e in text[:-1]] == ["progress"] * (len(text) - 1)
    a = json_format.MessageToDict(structs[-1].result)
    b = json.loads(text[-1].result_json)
    a.pop("timings_ms"), b.pop("timings_ms")
    assert a == b
    info = await rpc_error(
        collect(analyzer_stub, face_jpeg, encoding=7), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert info is not None and info.metadata["field"] == "result_encoding"


async def test_refusal_is_invalid_argument_with_every_reason(analyzer_stub):
    info = await rpc_error(
        collect(analyzer_stub, photos.encode(photos.no_face())),
        grpc.StatusCode.INVALID_ARGUMENT,
        "NO_FACE",
    )
    assert info is not None and info.metadata["reasons"] == "NO_FACE"
    assert "camera" in info.metadata["NO_FACE"]


async def test_request_validation_names_the_field(analyzer_stub, face_jpeg):
    info = await rpc_error(collect(analyzer_stub, b""), grpc.StatusCode.INVALID_ARGUMENT)
    assert info is not None and info.metadata["field"] == "image"
    for age in (MIN_DECLARED_AGE - 1, MAX_DECLARED_AGE + 1):  # one range for every service
        info = await rpc_error(
            collect(analyzer_stub, face_jpeg, real_age=age), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert info is not None and info.metadata["field"] == "real_age"


async def test_upload_above_the_receive_limit_is_refused_by_grpc(analyzer_stub):
    await rpc_error(
        collect(analyzer_stub, b"\xff\xd8\xff" + bytes(24 * 1024 * 1024)),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )


async def test_upload_above_the_photo_limit_is_image_too_large(analyzer_stub):
    await rpc_error(
        collect(analyzer_stub, b"\xff\xd8\xff" + bytes(20 * 1024 * 1024 + 10)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "IMAGE_TOO_LARGE",
    )


async def test_cancelling_the_stream_stops_the_work(analyzer_server, analyzer_stub, face_jpeg):
    pool = analyzer_server.pool
    ended = dict(pool.outcomes)
    call = analyzer_stub.AnalyzeFace(pb.AnalyzeFaceRequest(image=face_jpeg), timeout=60)
    first = await call.read()
    assert first.progress.stage == pb.ANALYSIS_STAGE_DECODE
    call.cancel()
    for _ in range(100):
        if pool.active == 0:
            break
        await asyncio.sleep(0.05)
    assert pool.active == 0
    # The worker itself stopped early: it reported the job cancelled, not finished.
    assert pool.outcomes["cancelled"] == ended.get("cancelled", 0) + 1
    assert pool.outcomes["result"] == ended.get("result", 0)
    # The workers are free again for the next caller.
    assert (await collect(analyzer_stub, face_jpeg))[-1].HasField("result")


async def test_past_the_concurrency_cap_is_resource_exhausted(face_jpeg, jwt_secret, service_token):
    settings = analyzer_settings(jwt_secret, analyzer_workers=1, analyzer_max_concurrent=1)
    server = await build_server(settings)
    try:
        async with service_channel(server.port, service_token) as channel:
            stub = analyzer_pb2_grpc.AnalyzerServiceStub(channel)
            outcomes = await asyncio.gather(
                *(collect(stub, face_jpeg) for _ in range(3)), return_exceptions=True
            )
        busy = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        done = [o for o in outcomes if isinstance(o, list)]
        assert done and busy
        assert all(o.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for o in busy)
    finally:
        await server.stop(0)


async def test_back_to_back_callers_at_the_cap_are_never_told_busy(face_jpeg):
    # A caller that gets its result and sends the next photo at once finds its slot free: the
    # slot is released before the result is handed over, not some moment after.
    pool = AnalysisPool(2, max_concurrent=2)
    await pool.start()

    async def analyse() -> str:
        return [kind async for kind, _ in pool.run(face_jpeg, 40)][-1]

    try:
        for _ in range(6):
            assert await asyncio.gather(analyse(), analyse()) == ["result", "result"]
    finally:
        pool.close()


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(GRPCURL), "-plaintext", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


async def test_reflection_lists_the_service(analyzer_server):
    target = f"127.0.0.1:{analyzer_server.port}"
    listed = await asyncio.to_thread(
        grpcurl, target, "describe", "skin.analyzer.v1.AnalyzerService"
    )
    assert listed.returncode == 0, listed.stderr
    assert "rpc AnalyzeFace" in listed.stdout and "stream" in listed.stdout
    assert "rpc RecommendRoutine" in listed.stdout
    request = json.dumps({"service": "skin.analyzer.v1.AnalyzerService"})
    health = await asyncio.to_thread(grpcurl, "-d", request, target, "grpc.health.v1.Health/Check")
    assert json.loads(health.stdout)["status"] == "SERVING"


@pytest.mark.slow
async def test_python_m_analyzer_serves_and_stops_on_sigterm(face_jpeg, jwt_secret, service_token):
    port = free_port()
    env = {
        **os.environ,
        "ANALYZER_PORT": str(port),
        "ANALYZER_HOST": "127.0.0.1",
        "ANALYZER_WORKERS": "1",
        "SUPABASE_JWT_SECRET": jwt_secret,
    }
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "analyzer"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with service_channel(port, service_token) as channel:
            await wait_serving(port, "", process)
            stub = analyzer_pb2_grpc.AnalyzerServiceStub(channel)
            assert (await collect(stub, face_jpeg))[-1].HasField("result")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


async def test_recommend_routine_from_a_real_analysis(analyzer_stub, face_jpeg):
    analysis = (await collect(analyzer_stub, face_jpeg))[-1].result
    intake = struct({"skin_type": "combination", "concerns": ["spots"], "minutes_per_day": 9})
    reply = await analyzer_stub.RecommendRoutine(
        pb.RecommendRoutineRequest(analysis=analysis, intake=intake, real_age=40), timeout=10
    )
    routine = json_format.MessageToDict(reply.routine)
    jsonschema.validate(routine, ROUTINE_SCHEMA)
    assert routine["am"][-1]["kind"] == "sunscreen"
    assert routine["minutes"]["busiest_day"] <= 9
    # The same documents as JSON text, the routine asked back as JSON text: the same routine.
    as_text = await analyzer_stub.RecommendRoutine(
        pb.RecommendRoutineRequest(
            analysis_json=json_format.MessageToJson(analysis),
            intake_json=json_format.MessageToJson(intake),
            routine_encoding=pb.RESULT_ENCODING_JSON,
            real_age=40,
        ),
        timeout=10,
    )
    assert not as_text.HasField("routine") and json.loads(as_text.routine_json) == routine
    for request, field in [
        (pb.RecommendRoutineRequest(analysis_json="[]", intake=intake), "analysis_json"),
        (pb.RecommendRoutineRequest(analysis=analysis, intake_json="{"), "intake_json"),
        (pb.RecommendRoutineRequest(analysis=analysis, analysis_json="{}", intake=intake),
         "analysis_json"),
    ]:  # fmt: skip
        info = await rpc_error(
            analyzer_stub.RecommendRoutine(request, timeout=10), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert info is not None and info.metadata["field"] == field


async def test_recommend_routine_names_every_bad_intake_field(analyzer_stub):
    intake = struct({"skin_type": "purple", "minutes_per_day": 1, "favourite": "x"})
    info = await rpc_error(
        analyzer_stub.RecommendRoutine(
            pb.RecommendRoutineRequest(analysis=struct({"concerns": {}}), intake=intake), timeout=10
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert info is not None
    assert set(info.metadata["fields"].split(",")) == {
        "intake.skin_type", "intake.minutes_per_day", "intake.favourite",
    }  # fmt: skip
    missing = await rpc_error(
        analyzer_stub.RecommendRoutine(pb.RecommendRoutineRequest(intake=intake), timeout=10),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert missing is not None and missing.metadata["field"] == "analysis"


async def test_the_analyzer_takes_the_service_token_only(analyzer_server, face_jpeg, token_for):
    # Found by an attacker: the analyzer answered anyone, and 8 unauthenticated streams made
    # users' tasks fail. Without a token: UNAUTHENTICATED; with a user's: PERMISSION_DENIED.
    request = pb.AnalyzeFaceRequest(image=face_jpeg)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{analyzer_server.port}") as channel:
        stub = analyzer_pb2_grpc.AnalyzerServiceStub(channel)
        await rpc_error(
            stub.AnalyzeFace(request).read(), grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN"
        )
        user = [("authorization", f"Bearer {token_for(str(uuid.uuid4()))}")]
        await rpc_error(
            stub.AnalyzeFace(request, metadata=user).read(),
            grpc.StatusCode.PERMISSION_DENIED,
            "SERVICE_ROLE_REQUIRED",
        )
        routine = pb.RecommendRoutineRequest(analysis=struct({"concerns": {}}), intake=struct({}))
        await rpc_error(stub.RecommendRoutine(routine), grpc.StatusCode.UNAUTHENTICATED)
        # Probes still need nothing.
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert analyzer_server.pool.active == 0


def command_of(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_text().replace("\0", " ")[:200]
    except OSError:
        return "?"


def alive(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.slow
async def test_workers_exit_when_the_analyzer_is_killed(jwt_secret):
    # Found: kill -9 of the analyzer left its worker pool running (~480 MB for minutes).
    port = free_port()
    env = {**os.environ, "ANALYZER_PORT": str(port), "ANALYZER_WORKERS": "2",
           "SUPABASE_JWT_SECRET": jwt_secret}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "analyzer"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_serving(port, "", process)
        workers = set(children(process.pid))
        assert len(workers) >= 2, workers
    finally:
        process.kill()
        process.wait()
    for _ in range(200):
        if not any(alive(pid) for pid in workers):
            break
        await asyncio.sleep(0.1)
    survivors = {pid: command_of(pid) for pid in workers if alive(pid)}
    assert not survivors


def test_a_worker_started_after_the_analyzer_died_exits():
    # Found in CI: a worker spawned just before kill -9 ran its initializer already re-parented,
    # took its new parent for the analyzer, and outlived it. It must watch the analyzer's pid.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    worker = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from analyzer.workers import _follow_parent;"
         " _follow_parent(int(sys.argv[1])); time.sleep(60)",
         str(gone.pid)],
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        assert worker.wait(timeout=30) == 0
    finally:
        worker.kill()
