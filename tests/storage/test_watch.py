"""WatchTask over LISTEN/NOTIFY: changes by other connections, progress relay, terminal end."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import psycopg
from google.protobuf import struct_pb2

from skin.storage.v1 import storage_pb2 as pb
from tests.grpc_assertions import rpc_error


async def next_event(stream) -> pb.WatchTaskResponse:
    return await asyncio.wait_for(stream.read(), timeout=10)


async def test_watch_streams_changes_progress_and_ends_at_terminal(stub, user, pg_admin_url):
    _, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(real_age=25), metadata=md)).task
    stream = stub.WatchTask(pb.WatchTaskRequest(task_id=task.id), metadata=md)
    first = await next_event(stream)
    assert first.task.status == pb.TASK_STATUS_QUEUED

    # A change made by another connection, outside this service, still reaches the watcher.
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            "update public.skin_analysis_tasks set status = 'running' where id = %s",
            (uuid.UUID(task.id),),
        )
    assert (await next_event(stream)).task.status == pb.TASK_STATUS_RUNNING

    await stub.PublishProgress(
        pb.PublishProgressRequest(
            task_id=task.id,
            progress=pb.TaskProgress(stage="landmarks", fraction=0.4, message="finding the face"),
        ),
        metadata=md,
    )
    progress = (await next_event(stream)).progress
    assert (progress.stage, progress.message) == ("landmarks", "finding the face")
    assert abs(progress.fraction - 0.4) < 1e-9

    result = struct_pb2.Struct()
    result.update({"ok": True})
    await stub.UpdateTask(
        pb.UpdateTaskRequest(task_id=task.id, status=pb.TASK_STATUS_SUCCEEDED, result=result),
        metadata=md,
    )
    last = await next_event(stream)
    assert last.task.status == pb.TASK_STATUS_SUCCEEDED and last.task.result["ok"] is True
    assert await asyncio.wait_for(stream.read(), timeout=10) is grpc.aio.EOF
    assert await stream.code() == grpc.StatusCode.OK


async def test_watch_of_finished_task_sends_it_once_and_ends(stub, user):
    _, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    await stub.UpdateTask(
        pb.UpdateTaskRequest(task_id=task.id, status=pb.TASK_STATUS_FAILED, error="BLURRY"),
        metadata=md,
    )
    events = [
        event async for event in stub.WatchTask(pb.WatchTaskRequest(task_id=task.id), metadata=md)
    ]
    assert len(events) == 1 and events[0].task.error == "BLURRY"


async def test_progress_for_a_finished_task_is_refused(stub, user):
    _, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    await stub.UpdateTask(
        pb.UpdateTaskRequest(task_id=task.id, status=pb.TASK_STATUS_FAILED, error="x"), metadata=md
    )
    await rpc_error(
        stub.PublishProgress(
            pb.PublishProgressRequest(
                task_id=task.id, progress=pb.TaskProgress(stage="decode", fraction=0.1)
            ),
            metadata=md,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "TASK_FINISHED",
    )


async def test_watch_of_deleted_task_ends_not_found(stub, user):
    _, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    stream = stub.WatchTask(pb.WatchTaskRequest(task_id=task.id), metadata=md)
    await next_event(stream)
    await stub.DeleteTask(pb.DeleteTaskRequest(task_id=task.id), metadata=md)
    await rpc_error(next_event(stream), grpc.StatusCode.NOT_FOUND)
