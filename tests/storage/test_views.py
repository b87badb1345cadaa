"""TaskView (AIP-157): a reply carries the documents as Structs, as the table's JSON text, or
not at all; the same task in every view."""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf import struct_pb2

from skin.storage.v1 import storage_pb2 as pb
from skin.structs import from_struct
from tests.grpc_assertions import rpc_error

RESULT = {
    "schema_version": "1",
    "concerns": {"redness": {"score": 12.5, "spots": [[0.25, 0.5], [0.75, 0.125]]}},
    "note": 'éü ✓ "quoted"',
}
INTAKE = {"skin_type": "dry", "concerns": ["redness"]}
ROUTINE = {"am": [{"step": "cleanse"}], "pm": []}


def struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


async def finished_task(stub, user, service_md) -> str:
    user_id, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    await stub.UpdateTask(
        pb.UpdateTaskRequest(
            user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_SUCCEEDED,
            result=struct(RESULT),
        ),
        metadata=service_md,
    )  # fmt: skip
    await stub.SetRoutine(
        pb.SetRoutineRequest(
            user_id=user_id, task_id=task.id, routine=struct(ROUTINE), intake=struct(INTAKE)
        ),
        metadata=service_md,
    )
    return task.id


def documents_as_text(task: pb.Task) -> dict:
    return {
        "result": json.loads(task.result_json),
        "intake": json.loads(task.intake_json),
        "routine": json.loads(task.routine_json),
    }


def documents_as_structs(task: pb.Task) -> dict:
    return {name: from_struct(getattr(task, name)) for name in ("result", "intake", "routine")}


async def test_views_carry_the_same_task(stub, user, service_md):
    task_id = await finished_task(stub, user, service_md)
    md = user[1]

    async def get(view: pb.TaskView) -> pb.Task:
        return (await stub.GetTask(pb.GetTaskRequest(task_id=task_id, view=view), metadata=md)).task

    views = (pb.TASK_VIEW_FULL, pb.TASK_VIEW_UNSPECIFIED, pb.TASK_VIEW_JSON, pb.TASK_VIEW_BASIC)
    full, default, text, basic = [await get(view) for view in views]
    expected = {"result": RESULT, "intake": INTAKE, "routine": ROUTINE}
    assert documents_as_structs(full) == expected and default == full
    assert not full.result_json and not full.intake_json and not full.routine_json
    assert documents_as_text(text) == expected
    assert not text.HasField("result") and not text.HasField("routine")
    assert not any(basic.HasField(name) for name in ("result", "intake", "routine"))
    assert not basic.result_json and not basic.intake_json and not basic.routine_json
    for other in (text, basic):  # everything else is the same task
        assert (other.id, other.status, other.update_time) == (
            full.id,
            full.status,
            full.update_time,
        )

    listed = (await stub.ListTasks(pb.ListTasksRequest(view=pb.TASK_VIEW_JSON), metadata=md)).tasks
    assert documents_as_text(next(t for t in listed if t.id == task_id)) == expected


async def test_writes_and_watch_reply_in_the_asked_view(stub, user, service_md):
    user_id, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    done = await stub.UpdateTask(
        pb.UpdateTaskRequest(
            user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_SUCCEEDED,
            result=struct(RESULT), view=pb.TASK_VIEW_BASIC,
        ),
        metadata=service_md,
    )  # fmt: skip
    assert done.task.status == pb.TASK_STATUS_SUCCEEDED and not done.task.HasField("result")
    with_intake = await stub.SetIntake(
        pb.SetIntakeRequest(task_id=task.id, intake=struct(INTAKE), view=pb.TASK_VIEW_JSON),
        metadata=md,
    )
    assert json.loads(with_intake.task.result_json) == RESULT
    assert json.loads(with_intake.task.intake_json) == INTAKE
    stream = stub.WatchTask(
        pb.WatchTaskRequest(task_id=task.id, view=pb.TASK_VIEW_JSON), metadata=md
    )
    first = await stream.read()
    stream.cancel()
    assert json.loads(first.task.result_json) == RESULT


async def test_an_unknown_view_is_invalid(stub, user):
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=user[1])).task
    await rpc_error(
        stub.GetTask(pb.GetTaskRequest(task_id=task.id, view=99), metadata=user[1]),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_a_result_sent_as_json_text_is_stored_as_it_is(stub, user, service_md):
    user_id, md = user

    async def succeed(**result: Any) -> pb.Task:
        task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
        request = pb.UpdateTaskRequest(
            user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_SUCCEEDED, **result
        )
        return (await stub.UpdateTask(request, metadata=service_md)).task

    stored = await succeed(result_json=json.dumps(RESULT))
    assert from_struct(stored.result) == RESULT
    for text, field in [
        ("[1, 2]", "result_json"),  # not an object
        ('{"a": ', "result_json"),  # not JSON
        (json.dumps({"a": ["x\x00y"]}), "result_json.a[0]"),  # a NUL, named where
    ]:
        info = await rpc_error(succeed(result_json=text), grpc.StatusCode.INVALID_ARGUMENT)
        assert info.metadata["field"] == field, text
    info = await rpc_error(
        succeed(result_json="{}", result=struct(RESULT)), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert info.metadata["field"] == "result_json"


async def test_a_routine_and_intake_sent_as_json_text(stub, user, service_md):
    user_id, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    await stub.UpdateTask(
        pb.UpdateTaskRequest(
            user_id=user_id, task_id=task.id, status=pb.TASK_STATUS_SUCCEEDED,
            result_json=json.dumps(RESULT),
        ),
        metadata=service_md,
    )  # fmt: skip
    stored = await stub.SetRoutine(
        pb.SetRoutineRequest(
            user_id=user_id, task_id=task.id, routine_json=json.dumps(ROUTINE),
            intake_json=json.dumps(INTAKE), view=pb.TASK_VIEW_JSON,
        ),
        metadata=service_md,
    )  # fmt: skip
    assert documents_as_text(stored.task) == {
        "result": RESULT,
        "intake": INTAKE,
        "routine": ROUTINE,
    }
    both = pb.SetRoutineRequest(
        user_id=user_id, task_id=task.id, routine_json="{}", routine=struct(ROUTINE)
    )
    info = await rpc_error(
        stub.SetRoutine(both, metadata=service_md), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert info.metadata["field"] == "routine_json"
    neither = pb.SetRoutineRequest(user_id=user_id, task_id=task.id, intake_json="{}")
    info = await rpc_error(
        stub.SetRoutine(neither, metadata=service_md), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert info.metadata["field"] == "routine"
