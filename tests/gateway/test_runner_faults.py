"""Every accepted task ends: an analyzer that dies mid-stream leaves the task failed, clearly."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import httpx
from google.protobuf import struct_pb2

from skin.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from skin.identity import mint_token
from skin.storage.v1 import storage_pb2, storage_pb2_grpc
from storage.embedded_postgres import free_port
from storage.server import build_server as build_storage
from tests.analyzer import photos
from tests.gateway.conftest import gateway_settings, running_gateway, wait_for
from tests.servers import storage_settings


async def test_analyzer_killed_mid_stream_fails_the_task(
    storage_server, stalling, jwt_secret, make_user, token_for
):
    port = stalling.port
    settings = gateway_settings(storage_server.port, port, jwt_secret, analysis_timeout_seconds=3)
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        selfie = photos.encode(photos.astronaut())
        task_id = (
            await client.post(
                "/tasks", headers=headers, files={"image": ("a.jpg", selfie, "image/jpeg")}
            )
        ).json()["task_id"]
        await asyncio.wait_for(stalling.started.wait(), 10)
        running = (await client.get(f"/tasks/{task_id}", headers=headers)).json()
        assert running["status"] == "running"
        await stalling.server.stop(0)  # it dies mid-stream, and stays down for the retry
        body = await wait_for(
            client, f"/tasks/{task_id}", headers, lambda b: b["status"] == "failed"
        )
    assert "unavailable" in body["error"] and "try again" in body["error"]
    assert body["result"] is None


async def test_more_pending_photos_than_the_gateway_holds_is_429(
    storage_server, stalling, jwt_secret, make_user, token_for
):
    port = stalling.port
    settings = gateway_settings(
        storage_server.port, port, jwt_secret, max_pending_tasks=1, shutdown_grace_seconds=0
    )
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        selfie = photos.encode(photos.astronaut())
        files = {"image": ("a.jpg", selfie, "image/jpeg")}
        first = await client.post("/tasks", headers=headers, files=files)
        assert first.status_code == 202
        second = await client.post("/tasks", headers=headers, files=files)
        assert second.status_code == 429 and second.headers["retry-after"] == "5"
        assert second.json()["error"]["details"][0]["reason"] == "TOO_MANY_PENDING_ANALYSES"


async def test_stopping_the_gateway_fails_its_running_tasks_as_interrupted(
    storage_server, stalling, jwt_secret, make_user, token_for
):
    port = stalling.port
    settings = gateway_settings(storage_server.port, port, jwt_secret, shutdown_grace_seconds=0.5)
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        selfie = photos.encode(photos.astronaut())
        response = await client.post(
            "/tasks", headers=headers, files={"image": ("a.jpg", selfie, "image/jpeg")}
        )
        task_id = response.json()["task_id"]
        await asyncio.wait_for(stalling.started.wait(), 10)
    # The gateway is gone; a second one reads what storage kept.
    storage_only = gateway_settings(storage_server.port, port, jwt_secret)
    async with (
        running_gateway(storage_only) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        body = (await client.get(f"/tasks/{task_id}", headers=headers)).json()
    assert body["status"] == "failed" and body["error"].startswith("interrupted")


async def test_readiness_and_errors_when_a_backend_is_down(jwt_secret, make_user, token_for):
    dead_storage, dead_analyzer = free_port(), free_port()
    settings = gateway_settings(dead_storage, dead_analyzer, jwt_secret, call_timeout_seconds=2)
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        down = await client.get("/tasks", headers=headers)
        assert down.status_code == 503 and down.json()["error"]["status"] == "UNAVAILABLE"
        # The channel's own details name internal addresses; the body must not.
        for internal in ("127.0.0.1", str(dead_storage), "ipv4", "connect"):
            assert internal not in down.text
        assert (await client.get("/healthz")).status_code == 200


DONE = ("succeeded", "failed")


class BusyThenDoneAnalyzer(analyzer_pb2_grpc.AnalyzerServiceServicer):
    """Answers RESOURCE_EXHAUSTED (as an analyzer at its concurrency cap does) until `busy_until`
    on the loop's clock, or until `release` is set; then reports one stage and a result."""

    def __init__(self, busy_seconds: float = 0.0) -> None:
        self.busy_until = asyncio.get_running_loop().time() + busy_seconds
        self.refused = 0
        self.release = asyncio.Event()
        self.release.set()
        self.answered = asyncio.Event()

    async def AnalyzeFace(self, request, context):
        if asyncio.get_running_loop().time() < self.busy_until:
            self.refused += 1
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "all workers are busy")
        yield analyzer_pb2.AnalyzeFaceResponse(
            progress=analyzer_pb2.AnalysisProgress(
                stage=analyzer_pb2.ANALYSIS_STAGE_DECODE, fraction=0.1
            )
        )
        await self.release.wait()
        result = struct_pb2.Struct()
        result.update({"schema_version": "2.3", "overall": {"score": 42}})
        self.answered.set()
        yield analyzer_pb2.AnalyzeFaceResponse(result=result)


@asynccontextmanager
async def fake_analyzer(servicer) -> AsyncIterator[int]:
    server = grpc.aio.server()
    analyzer_pb2_grpc.add_AnalyzerServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port
    finally:
        await server.stop(0)


async def test_a_busy_analyzer_makes_tasks_wait_not_fail(
    storage_server, jwt_secret, make_user, token_for
):
    # Found: overload failed users' tasks after ~1.5 s. Busy is retried with backoff until the
    # analysis deadline.
    busy = BusyThenDoneAnalyzer(busy_seconds=4.0)
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    async with fake_analyzer(busy) as port:
        settings = gateway_settings(
            storage_server.port, port, jwt_secret, analysis_timeout_seconds=30
        )
        async with (
            running_gateway(settings) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as client,
        ):
            files = {"image": ("a.jpg", photos.encode(photos.astronaut()), "image/jpeg")}
            task_id = (await client.post("/tasks", headers=headers, files=files)).json()["task_id"]
            body = await wait_for(
                client,
                f"/tasks/{task_id}",
                headers,
                lambda b: b["status"] != "running" and b["status"] != "queued",
            )
    assert busy.refused >= 2
    assert body["status"] == "succeeded", body
    assert body["result"]["overall"]["score"] == 42


async def test_a_storage_outage_at_the_final_write_keeps_the_result(
    pg_admin_url, jwt_secret, make_user, token_for
):
    # Found: a storage outage longer than ~3-6 s lost finished analyses and blamed the
    # analyzer. The result is kept and its write retried until storage is back.
    storage_port = free_port()
    settings = storage_settings(pg_admin_url, jwt_secret, storage_port=storage_port)
    analyzer = BusyThenDoneAnalyzer()
    analyzer.release.clear()
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    storage = await build_storage(settings)
    async with fake_analyzer(analyzer) as analyzer_port:
        gateway = gateway_settings(storage_port, analyzer_port, jwt_secret)
        async with (
            running_gateway(gateway) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as client,
        ):
            files = {"image": ("a.jpg", photos.encode(photos.astronaut()), "image/jpeg")}
            task_id = (await client.post("/tasks", headers=headers, files=files)).json()["task_id"]
            await wait_for(client, f"/tasks/{task_id}", headers, lambda b: b["status"] == "running")
            await storage.stop(0)
            analyzer.release.set()  # the analysis finishes while storage is down
            await asyncio.wait_for(analyzer.answered.wait(), 10)
            await asyncio.sleep(8)
            storage = await build_storage(settings)
            # (GET answers 503 until the gateway's channel has reconnected.)
            body = await wait_for(
                client, f"/tasks/{task_id}", headers, lambda b: b.get("status") in DONE
            )
    await storage.stop(0)
    assert body["status"] == "succeeded", body
    assert body["result"]["overall"]["score"] == 42


def multipart(image: bytes, boundary: str = "skin-test-boundary") -> tuple[bytes, dict[str, str]]:
    """A multipart body with one `image` part, and its content-type header."""
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


async def test_concurrent_uploads_cannot_pass_the_pending_cap_together(
    storage_server, stalling, jwt_secret, make_user, token_for
):
    # Found: the cap was checked before the body was read and counted after, so 200 concurrent
    # uploads were all accepted. Six uploads in flight at once against a cap of two: two
    # accepted, four refused.
    settings = gateway_settings(
        storage_server.port, stalling.port, jwt_secret, max_pending_tasks=2,
        shutdown_grace_seconds=0,
    )  # fmt: skip
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    body, content_type = multipart(photos.encode(photos.astronaut()))
    gate = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield body[: len(body) // 2]
        await gate.wait()  # every upload is in flight before any finishes
        yield body[len(body) // 2 :]

    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        posts = [
            asyncio.create_task(
                client.post("/tasks", headers=headers | content_type, content=slow_body())
            )
            for _ in range(6)
        ]
        await asyncio.sleep(1.0)
        gate.set()
        codes = sorted(response.status_code for response in await asyncio.gather(*posts))
    assert codes == [202, 202, 429, 429, 429, 429]


async def test_a_chunked_upload_over_the_limit_is_413(
    storage_server, stalling, jwt_secret, make_user, token_for
):
    # No Content-Length to refuse early: the streamed count must stop it.
    settings = gateway_settings(
        storage_server.port, stalling.port, jwt_secret, max_upload_bytes=1024 * 1024
    )
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    body, content_type = multipart(b"\xff\xd8\xff" + b"\0" * (3 * 1024 * 1024))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        response = await client.post("/tasks", headers=headers | content_type, content=chunks())
        assert response.status_code == 413, response.text
        assert response.json()["error"]["details"][0]["reason"] == "IMAGE_TOO_LARGE"
        # Nothing was accepted, and the place it took is free again.
        files = {"image": ("a.jpg", photos.encode(photos.astronaut()), "image/jpeg")}
        assert (await client.post("/tasks", headers=headers, files=files)).status_code == 202


async def test_reads_stay_ready_while_the_analyzer_is_down(
    storage_server, jwt_secret, make_user, token_for
):
    # Found: readiness needed the analyzer, so an analyzer outage took reads offline too.
    settings = gateway_settings(storage_server.port, free_port(), jwt_secret)
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["analyzer"] != "SERVING"
        assert (await client.get("/tasks", headers=headers)).status_code == 200


async def test_intake_with_no_routine_possible_is_503_and_stores_nothing(
    storage_server, jwt_secret, make_user, token_for, service_token
):
    # Found: PUT intake answered 202, tried once, and lost the routine when that failed.
    user_id = make_user()
    user_md = [("authorization", f"Bearer {token_for(user_id)}")]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{storage_server.port}") as channel:
        stub = storage_pb2_grpc.TaskStoreServiceStub(channel)
        task = (await stub.CreateTask(storage_pb2.CreateTaskRequest(), metadata=user_md)).task
        result = struct_pb2.Struct()
        result.update({"schema_version": "2.3", "concerns": {}})
        await stub.UpdateTask(
            storage_pb2.UpdateTaskRequest(
                user_id=user_id, task_id=task.id, status=storage_pb2.TASK_STATUS_SUCCEEDED,
                result=result,
            ),
            metadata=[("authorization", f"Bearer {service_token}")],
        )  # fmt: skip
    settings = gateway_settings(storage_server.port, free_port(), jwt_secret)  # no analyzer
    headers = {"authorization": f"Bearer {token_for(user_id)}"}
    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        response = await client.put(
            f"/tasks/{task.id}/intake", headers=headers, json={"skin_type": "dry"}
        )
        assert response.status_code == 503, response.text
        assert response.json()["error"]["details"][0]["reason"] == "ROUTINE_UNAVAILABLE"
        body = (await client.get(f"/tasks/{task.id}", headers=headers)).json()
    assert body["intake"] is None and body["routine"] is None


async def test_the_gateway_checks_tokens_itself(jwt_secret, service_token):
    # Storage checks tokens too, which hid a gateway that did not: with storage unreachable, a
    # bad or service token must still be 401 from the gateway, before any upload is read.
    settings = gateway_settings(free_port(), free_port(), jwt_secret, call_timeout_seconds=2)
    expired = mint_token(jwt_secret, str(uuid.uuid4()), ttl_seconds=-120)
    files = {"image": ("a.jpg", photos.encode(photos.astronaut()), "image/jpeg")}
    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        for token in ("not.a.token", expired, service_token):
            headers = {"authorization": f"Bearer {token}"}
            assert (await client.get("/tasks", headers=headers)).status_code == 401
            assert (await client.post("/tasks", headers=headers, files=files)).status_code == 401


class ProgressingAnalyzer(analyzer_pb2_grpc.AnalyzerServiceServicer):
    """Reports four stages, then stalls."""

    STAGES = (
        analyzer_pb2.ANALYSIS_STAGE_DECODE,
        analyzer_pb2.ANALYSIS_STAGE_QUALITY,
        analyzer_pb2.ANALYSIS_STAGE_LANDMARKS,
        analyzer_pb2.ANALYSIS_STAGE_REGIONS,
    )

    async def AnalyzeFace(self, request, context):
        for index, stage in enumerate(self.STAGES):
            yield analyzer_pb2.AnalyzeFaceResponse(
                progress=analyzer_pb2.AnalysisProgress(
                    stage=stage, fraction=0.1 * (index + 1), message=f"stage {index}"
                )
            )
            await asyncio.sleep(0.2)
        await asyncio.sleep(3600)


async def test_every_progress_event_reaches_the_event_stream(
    storage_server, jwt_secret, make_user, token_for
):
    headers = {"authorization": f"Bearer {token_for(make_user())}"}
    async with fake_analyzer(ProgressingAnalyzer()) as port:
        settings = gateway_settings(storage_server.port, port, jwt_secret, shutdown_grace_seconds=0)
        async with (
            running_gateway(settings) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as client,
        ):
            files = {"image": ("a.jpg", photos.encode(photos.astronaut()), "image/jpeg")}
            task_id = (await client.post("/tasks", headers=headers, files=files)).json()["task_id"]
            stages = []
            async with client.stream("GET", f"/tasks/{task_id}/events", headers=headers) as events:

                async def read() -> None:
                    async for line in events.aiter_lines():
                        if line.startswith("data:") and '"stage"' in line:
                            stages.append(json.loads(line[5:])["stage"])
                            if len(stages) == 4:
                                return

                await asyncio.wait_for(read(), 15)
    assert stages == ["decode", "quality", "landmarks", "regions"]
