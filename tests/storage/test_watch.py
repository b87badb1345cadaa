"""WatchTask over LISTEN/NOTIFY: changes by other connections, progress relay, terminal end."""

from __future__ import annotations

import asyncio
import json
import uuid

import grpc
import psycopg
from google.protobuf import struct_pb2

from skin.storage.v1 import storage_pb2 as pb
from tests.grpc_assertions import rpc_error


async def next_event(stream) -> pb.WatchTaskResponse:
    return await asyncio.wait_for(stream.read(), timeout=10)


async def test_watch_streams_changes_progress_and_ends_at_terminal(
    stub, user, pg_admin_url, service_md
):
    user_id, md = user
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
            user_id=user_id,
            task_id=task.id,
            progress=pb.TaskProgress(stage="landmarks", fraction=0.4, message="finding the face"),
        ),
        metadata=service_md,
    )
    progress = (await next_event(stream)).progress
    assert (progress.stage, progress.message) == ("landmarks", "finding the face")
    assert abs(progress.fraction - 0.4) < 1e-9

    result = struct_pb2.Struct()
    result.update({"ok": True})
    await stub.UpdateTask(
        pb.UpdateTaskRequest(
            user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_SUCCEEDED, result=result
        ),
        metadata=service_md,
    )
    last = await next_event(stream)
    assert last.task.status == pb.TASK_STATUS_SUCCEEDED and last.task.result["ok"] is True
    assert await asyncio.wait_for(stream.read(), timeout=10) is grpc.aio.EOF
    assert await stream.code() == grpc.StatusCode.OK


async def test_watch_of_finished_task_sends_it_once_and_ends(stub, user, service_md):
    user_id, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    await stub.UpdateTask(
        pb.UpdateTaskRequest(
            user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_FAILED, error="BLURRY"
        ),
        metadata=service_md,
    )
    events = [
        event async for event in stub.WatchTask(pb.WatchTaskRequest(task_id=task.id), metadata=md)
    ]
    assert len(events) == 1 and events[0].task.error == "BLURRY"


async def test_progress_for_a_finished_task_is_refused(stub, user, service_md):
    user_id, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    await stub.UpdateTask(
        pb.UpdateTaskRequest(
            user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_FAILED, error="x"
        ),
        metadata=service_md,
    )
    await rpc_error(
        stub.PublishProgress(
            pb.PublishProgressRequest(
                user_id=user_id,
                task_id=task.id,
                progress=pb.TaskProgress(stage="decode", fraction=0.1),
            ),
            metadata=service_md,
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


async def test_spoofed_notifications_do_not_reach_watchers(stub, user, pg_admin_url, service_md):
    # Any database session can NOTIFY the channel; an attacker's payloads (an impossible
    # fraction, a 3 KB message, an unknown stage, not JSON at all) must not be relayed.
    user_id, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    stream = stub.WatchTask(pb.WatchTaskRequest(task_id=task.id), metadata=md)
    assert (await next_event(stream)).task.status == pb.TASK_STATUS_QUEUED
    spoofed = [
        {"kind": "progress", "task_id": task.id, "stage": "decode", "fraction": 7.5},
        {"kind": "progress", "task_id": task.id, "stage": "decode", "fraction": 0.5,
         "message": "x" * 3000},
        {"kind": "progress", "task_id": task.id, "stage": "payment", "fraction": 0.5},
        {"kind": "progress", "task_id": task.id, "stage": "decode", "fraction": "NaN"},
    ]  # fmt: skip
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for payload in [*map(json.dumps, spoofed), "not json", "[]"]:
            conn.execute("select pg_notify('skin_analysis_tasks', %s)", (payload,))
    await stub.PublishProgress(
        pb.PublishProgressRequest(
            user_id=user_id,
            task_id=task.id,
            progress=pb.TaskProgress(stage="quality", fraction=0.3, message="checked"),
        ),
        metadata=service_md,
    )
    # Notifications arrive in order: the first relayed event is the service's own.
    progress = (await next_event(stream)).progress
    assert (progress.stage, progress.message) == ("quality", "checked")
    stream.cancel()


async def test_progress_must_name_a_known_stage_and_a_fraction_in_range(stub, user, service_md):
    user_id, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    bad = [
        (pb.TaskProgress(stage="payment", fraction=0.5), "progress.stage"),
        (pb.TaskProgress(stage="decode", fraction=7.5), "progress.fraction"),
        (pb.TaskProgress(stage="decode", fraction=0.5, message="x" * 3000), "progress.message"),
    ]
    for progress, field in bad:
        info = await rpc_error(
            stub.PublishProgress(
                pb.PublishProgressRequest(user_id=user_id, task_id=task.id, progress=progress),
                metadata=service_md,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert info.metadata["field"] == field
