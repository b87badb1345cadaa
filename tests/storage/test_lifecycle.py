"""Task lifecycle over real gRPC and PostgreSQL: transitions, validation, paging, janitor."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import psycopg
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from skin.contracts import MAX_DECLARED_AGE, MIN_DECLARED_AGE
from skin.identity import mint_token
from skin.storage.v1 import storage_pb2 as pb
from storage.embedded_postgres import EmbeddedPostgres, free_port
from storage.janitor import STALE_ERROR, fail_stale_tasks
from storage.server import build_server
from tests.grpc_assertions import rpc_error
from tests.servers import running_storage, storage_settings

TABLE = "public.skin_analysis_tasks"
UPDATED_AT_TRIGGER = "trg_skin_analysis_tasks_updated_at"
RESULT = struct_pb2.Struct()
RESULT.update({"schema_version": "1", "scores": {"redness": 12.5}})


async def create(stub, md, real_age: int | None = 30) -> pb.Task:
    request = (
        pb.CreateTaskRequest(real_age=real_age) if real_age is not None else pb.CreateTaskRequest()
    )
    return (await stub.CreateTask(request, metadata=md)).task


async def test_create_returns_queued_task_owned_by_caller(stub, user):
    user_id, md = user
    task = await create(stub, md, real_age=41)
    assert task.status == pb.TASK_STATUS_QUEUED
    assert task.user_id == user_id and task.real_age == 41
    assert not task.HasField("result") and not task.HasField("error")
    fetched = (await stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md)).task
    assert fetched == task


async def test_task_moves_queued_running_succeeded(stub, user, service_md):
    user_id, md = user
    task = await create(stub, md)
    running = await stub.UpdateTask(
        pb.UpdateTaskRequest(user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_RUNNING),
        metadata=service_md,
    )
    assert running.task.status == pb.TASK_STATUS_RUNNING
    done = await stub.UpdateTask(
        pb.UpdateTaskRequest(
            user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_SUCCEEDED, result=RESULT
        ),
        metadata=service_md,
    )
    assert done.task.status == pb.TASK_STATUS_SUCCEEDED
    assert done.task.result["scores"]["redness"] == 12.5


async def test_terminal_status_never_changes(stub, user, service_md):
    user_id, md = user
    task = await create(stub, md)
    await stub.UpdateTask(
        pb.UpdateTaskRequest(
            user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_FAILED, error="NO_FACE"
        ),
        metadata=service_md,
    )
    for status, extra in (
        (pb.TASK_STATUS_RUNNING, {}),
        (pb.TASK_STATUS_SUCCEEDED, {"result": RESULT}),
        (pb.TASK_STATUS_FAILED, {"error": "again"}),
    ):
        info = await rpc_error(
            stub.UpdateTask(
                pb.UpdateTaskRequest(user_id=user_id, task_id=task.id, status=status, **extra),
                metadata=service_md,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "INVALID_STATUS_TRANSITION",
        )
        assert info is not None and info.metadata["current_status"] == "failed"
    still = (await stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md)).task
    assert still.status == pb.TASK_STATUS_FAILED and still.error == "NO_FACE"


async def test_running_cannot_go_back_to_queued(stub, user, service_md):
    user_id, md = user
    task = await create(stub, md)
    await stub.UpdateTask(
        pb.UpdateTaskRequest(user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_RUNNING),
        metadata=service_md,
    )
    await rpc_error(
        stub.UpdateTask(
            pb.UpdateTaskRequest(user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_QUEUED),
            metadata=service_md,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )


async def test_updated_at_is_set_by_the_trigger(stub, user, service_md):
    user_id, md = user
    task = await create(stub, md)
    await asyncio.sleep(0.01)
    running = (
        await stub.UpdateTask(
            pb.UpdateTaskRequest(user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_RUNNING),
            metadata=service_md,
        )
    ).task
    assert running.update_time.ToDatetime() > task.update_time.ToDatetime()
    assert running.create_time == task.create_time


async def test_malformed_requests_name_the_field(stub, user, service_md):
    user_id, md = user
    task = await create(stub, md)
    cases = [
        (stub.GetTask(pb.GetTaskRequest(task_id="not-a-uuid"), metadata=md), "task_id"),
        (stub.CreateTask(pb.CreateTaskRequest(real_age=-1), metadata=md), "real_age"),
        (stub.CreateTask(pb.CreateTaskRequest(real_age=500), metadata=md), "real_age"),
        (
            stub.CreateTask(pb.CreateTaskRequest(real_age=MAX_DECLARED_AGE + 1), metadata=md),
            "real_age",
        ),
        (stub.ListTasks(pb.ListTasksRequest(page_size=-1), metadata=md), "page_size"),
        (stub.ListTasks(pb.ListTasksRequest(page_token="%%garbage"), metadata=md), "page_token"),
        (
            stub.UpdateTask(
                pb.UpdateTaskRequest(user_id=user_id, task_id=task.id), metadata=service_md
            ),
            "status",
        ),
        (
            stub.UpdateTask(
                pb.UpdateTaskRequest(
                    user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_SUCCEEDED
                ),
                metadata=service_md,
            ),
            "result",
        ),
        (
            stub.UpdateTask(
                pb.UpdateTaskRequest(
                    user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_FAILED
                ),
                metadata=service_md,
            ),
            "error",
        ),
        (
            stub.UpdateTask(
                pb.UpdateTaskRequest(
                    user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_RUNNING, error="x"
                ),
                metadata=service_md,
            ),
            "error",
        ),
        (
            stub.PublishProgress(
                pb.PublishProgressRequest(
                    user_id=user_id,
                    task_id=task.id,
                    progress=pb.TaskProgress(stage="decode", fraction=2),
                ),
                metadata=service_md,
            ),
            "progress.fraction",
        ),
        (stub.SetIntake(pb.SetIntakeRequest(task_id=task.id), metadata=md), "intake"),
    ]
    for call, field in cases:
        info = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert info is not None and info.metadata["field"] == field


async def test_unknown_task_is_not_found(stub, user):
    _, md = user
    await rpc_error(
        stub.GetTask(pb.GetTaskRequest(task_id=str(uuid.uuid4())), metadata=md),
        grpc.StatusCode.NOT_FOUND,
        "TASK_NOT_FOUND",
    )


async def test_intake_and_routine_need_a_succeeded_analysis(stub, user, service_md):
    user_id, md = user
    task = await create(stub, md)
    intake = struct_pb2.Struct()
    intake.update({"skin_type": "oily"})
    await rpc_error(
        stub.SetIntake(pb.SetIntakeRequest(task_id=task.id, intake=intake), metadata=md),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ANALYSIS_NOT_SUCCEEDED",
    )
    await stub.UpdateTask(
        pb.UpdateTaskRequest(
            user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_SUCCEEDED, result=RESULT
        ),
        metadata=service_md,
    )
    with_intake = (
        await stub.SetIntake(pb.SetIntakeRequest(task_id=task.id, intake=intake), metadata=md)
    ).task
    assert with_intake.intake["skin_type"] == "oily"
    routine = struct_pb2.Struct()
    routine.update({"am": [{"step": "cleanser"}]})
    with_routine = (
        await stub.SetRoutine(
            pb.SetRoutineRequest(user_id=user_id, task_id=task.id, routine=routine),
            metadata=service_md,
        )
    ).task
    assert with_routine.routine["am"][0]["step"] == "cleanser"
    assert with_routine.intake == with_intake.intake


async def test_list_pages_newest_first_without_gaps(stub, user):
    _, md = user
    created = [(await create(stub, md)).id for _ in range(7)]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await stub.ListTasks(pb.ListTasksRequest(page_size=3, page_token=token), metadata=md)
        seen.extend(task.id for task in page.tasks)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(created))
    assert pages == 3


async def test_page_size_above_maximum_is_coerced(stub, user):
    _, md = user
    for _ in range(2):
        await create(stub, md)
    page = await stub.ListTasks(pb.ListTasksRequest(page_size=10_000), metadata=md)
    assert len(page.tasks) == 2 and page.next_page_token == ""


async def test_delete_removes_the_task(stub, user):
    _, md = user
    task = await create(stub, md)
    await stub.DeleteTask(pb.DeleteTaskRequest(task_id=task.id), metadata=md)
    await rpc_error(
        stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md), grpc.StatusCode.NOT_FOUND
    )
    await rpc_error(
        stub.DeleteTask(pb.DeleteTaskRequest(task_id=task.id), metadata=md),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_janitor_fails_only_stale_unfinished_tasks(
    stub, user, storage_server, pg_admin_url, service_md
):
    user_id, md = user
    stale_queued = await create(stub, md)
    stale_running = await create(stub, md)
    await stub.UpdateTask(
        pb.UpdateTaskRequest(
            user_id=user_id, task_id=stale_running.id, status=pb.TASK_STATUS_RUNNING
        ),
        metadata=service_md,
    )
    finished = await create(stub, md)
    await stub.UpdateTask(
        pb.UpdateTaskRequest(
            user_id=user_id, task_id=finished.id, status=pb.TASK_STATUS_SUCCEEDED, result=RESULT
        ),
        metadata=service_md,
    )
    fresh = await create(stub, md)
    # Age three tasks as if their process had died an hour ago; the trigger would reset
    # updated_at, so it is switched off for this one statement.
    with psycopg.connect(pg_admin_url, autocommit=True) as conn, conn.transaction():
        conn.execute(f"alter table {TABLE} disable trigger {UPDATED_AT_TRIGGER}")
        conn.execute(
            "update public.skin_analysis_tasks set updated_at = now() - interval '1 hour'"
            " where id = any(%s)",
            ([uuid.UUID(t.id) for t in (stale_queued, stale_running, finished)],),
        )
        conn.execute(f"alter table {TABLE} enable trigger {UPDATED_AT_TRIGGER}")
    assert await fail_stale_tasks(storage_server.database, stale_after_seconds=600) >= 2
    statuses = {}
    for task in (stale_queued, stale_running, finished, fresh):
        statuses[task.id] = (
            await stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md)
        ).task
    assert statuses[stale_queued.id].status == pb.TASK_STATUS_FAILED
    assert statuses[stale_running.id].status == pb.TASK_STATUS_FAILED
    assert statuses[stale_running.id].error == STALE_ERROR
    assert statuses[finished.id].status == pb.TASK_STATUS_SUCCEEDED
    assert statuses[fresh.id].status == pb.TASK_STATUS_QUEUED


async def test_same_idempotency_key_returns_the_same_task(stub, user, make_user, token_for):
    _, md = user
    first = await stub.CreateTask(
        pb.CreateTaskRequest(real_age=30, idempotency_key="k-1"), metadata=md
    )
    again = await stub.CreateTask(
        pb.CreateTaskRequest(real_age=30, idempotency_key="k-1"), metadata=md
    )
    other = await stub.CreateTask(
        pb.CreateTaskRequest(real_age=30, idempotency_key="k-2"), metadata=md
    )
    assert first.created and not again.created and other.created
    assert again.task.id == first.task.id and other.task.id != first.task.id
    # Keys are per user: another user's same key is another task.
    someone = make_user()
    theirs = await stub.CreateTask(
        pb.CreateTaskRequest(idempotency_key="k-1"),
        metadata=[("authorization", f"Bearer {token_for(someone)}")],
    )
    assert theirs.created and theirs.task.id != first.task.id
    await rpc_error(
        stub.CreateTask(pb.CreateTaskRequest(idempotency_key="x" * 300), metadata=md),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_text_postgresql_cannot_store_is_invalid_argument(stub, user, service_md):
    # A NUL inside any JSON value or the error text: PostgreSQL refuses it, so storage refuses
    # it first, naming where it is, instead of answering INTERNAL.
    user_id, md = user
    task = await create(stub, md)
    await stub.UpdateTask(
        pb.UpdateTaskRequest(user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_SUCCEEDED,
                             result=RESULT),
        metadata=service_md,
    )  # fmt: skip
    intake = struct_pb2.Struct()
    intake.update({"skin_type": "dry", "allergies": ["nuts\x00"]})
    info = await rpc_error(
        stub.SetIntake(pb.SetIntakeRequest(task_id=task.id, intake=intake), metadata=md),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert info.metadata["field"] == "intake.allergies[0]"
    # The six characters \u0000 are text like any other, not a NUL.
    intake = struct_pb2.Struct()
    intake.update({"skin_type": "dry", "allergies": ["\\u0000 is six characters"]})
    stored = await stub.SetIntake(pb.SetIntakeRequest(task_id=task.id, intake=intake), metadata=md)
    assert stored.task.intake == intake
    other = await create(stub, md)
    info = await rpc_error(
        stub.UpdateTask(
            pb.UpdateTaskRequest(user_id=user_id, task_id=other.id, status=pb.TASK_STATUS_FAILED,
                                 error="bad\x00"),
            metadata=service_md,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )  # fmt: skip
    assert info.metadata["field"] == "error"


@pytest.mark.slow
async def test_health_follows_the_database(jwt_secret, tmp_path):
    # Found: /readyz said "ok" while PostgreSQL was down. Storage's own health now follows a
    # probe query, on a cluster of its own that this test stops and starts again.
    cluster = EmbeddedPostgres(tmp_path / "pg", free_port(), durable=False)
    url = cluster.start()
    settings = storage_settings(url, jwt_secret, health_check_interval_seconds=0.3)
    server = await build_server(settings)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)

            async def status() -> int:
                request = health_pb2.HealthCheckRequest(service="skin.storage.v1.TaskStoreService")
                return (await health.Check(request, timeout=3)).status

            async def becomes(wanted: int) -> None:
                for _ in range(60):
                    if await status() == wanted:
                        return
                    await asyncio.sleep(0.25)
                raise AssertionError(f"health never became {wanted}")

            await becomes(health_pb2.HealthCheckResponse.SERVING)
            await asyncio.to_thread(cluster.stop)
            await becomes(health_pb2.HealthCheckResponse.NOT_SERVING)
            await asyncio.to_thread(cluster.start)
            await becomes(health_pb2.HealthCheckResponse.SERVING)
    finally:
        await server.stop(0)
        await asyncio.to_thread(cluster.stop)


async def test_the_running_janitor_fails_stale_tasks(pg_admin_url, jwt_secret, make_user):
    # The janitor's loop as the server runs it, not just one sweep called by hand.
    settings = storage_settings(
        pg_admin_url, jwt_secret, janitor_interval_seconds=0.2, task_stale_after_seconds=0.5
    )
    user_id = make_user()
    md = [("authorization", f"Bearer {mint_token(jwt_secret, user_id)}")]
    async with running_storage(settings) as stub:
        task = await create(stub, md)
        for _ in range(50):
            now = (await stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md)).task
            if now.status == pb.TASK_STATUS_FAILED:
                break
            await asyncio.sleep(0.1)
    assert now.status == pb.TASK_STATUS_FAILED and now.error == STALE_ERROR


async def test_the_declared_age_range_is_the_shared_contract(stub, user):
    # Its ends are taken, one past them is not (skin/contracts.py; the gateway and the analyzer
    # check the same range).
    _, md = user
    for age in (MIN_DECLARED_AGE, MAX_DECLARED_AGE):
        assert (await create(stub, md, real_age=age)).real_age == age
    for age in (MIN_DECLARED_AGE - 1, MAX_DECLARED_AGE + 1):
        info = await rpc_error(create(stub, md, real_age=age), grpc.StatusCode.INVALID_ARGUMENT)
        assert info is not None and info.metadata["field"] == "real_age"
