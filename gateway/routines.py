"""PUT /tasks/{id}/intake, made synchronous: the routine is made from this intake and the stored
analysis and stored together with the intake in one transaction, or nothing is stored. (It takes
milliseconds; answering with the routine removes the lag in which GET showed a new intake with
an older intake's routine.)"""

from __future__ import annotations

from typing import Any

import grpc

from gateway.clients import Backends, ServiceToken
from gateway.errors import ApiError
from skin.analyzer.v1 import analyzer_pb2
from skin.intake import Intake
from skin.storage.v1 import storage_pb2

# Failures of these kinds mean "not now": the caller may retry, and nothing was stored.
NOT_NOW = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
)


def _not_now(exc: grpc.aio.AioRpcError) -> ApiError:
    return ApiError(
        503,
        "ROUTINE_UNAVAILABLE",
        "the routine could not be made right now and nothing was stored; try again shortly",
        retry_after=5,
    )


async def store_intake_with_routine(
    backends: Backends,
    token: ServiceToken,
    user_metadata: list[tuple[str, str]],
    user_id: str,
    task_id: str,
    intake: Intake,
    timeout: float,
) -> storage_pb2.Task:
    """The task (TASK_VIEW_JSON) after storing `intake` and the routine made from it. The
    user's own token reads the task (so another user's task is 404 as everywhere); the service
    writes."""
    task = (
        await backends.storage.GetTask(
            storage_pb2.GetTaskRequest(task_id=task_id, view=storage_pb2.TASK_VIEW_JSON),
            metadata=user_metadata,
            timeout=timeout,
        )
    ).task
    if task.status != storage_pb2.TASK_STATUS_SUCCEEDED:
        raise ApiError(
            409,
            "ANALYSIS_NOT_SUCCEEDED",
            "the intake is for a finished analysis; wait until the task has succeeded",
            task_id=task.id,
        )
    # The documents travel as JSON text: the result as storage holds it, the intake and the
    # routine as their models write them; nothing is converted to or from a Struct.
    intake_json = intake.model_dump_json()
    # A storage from before TASK_VIEW_JSON answers with a Struct, which is passed on as it is.
    analysis = (
        {"analysis_json": task.result_json} if task.result_json else {"analysis": task.result}
    )
    recommend = analyzer_pb2.RecommendRoutineRequest(
        intake_json=intake_json, routine_encoding=analyzer_pb2.RESULT_ENCODING_JSON, **analysis
    )
    if task.HasField("real_age"):
        recommend.real_age = task.real_age
    service = token.metadata(dict(user_metadata).get("x-request-id", "-"))
    try:
        routine = await backends.analyzer.RecommendRoutine(
            recommend, metadata=service, timeout=timeout
        )
        stored = await backends.storage.SetRoutine(
            storage_pb2.SetRoutineRequest(
                user_id=user_id,
                task_id=task.id,
                intake_json=intake_json,
                **_routine_field(routine),
                view=storage_pb2.TASK_VIEW_JSON,
            ),
            metadata=service,
            timeout=timeout,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in NOT_NOW:
            raise _not_now(exc) from exc
        raise
    return stored.task


def _routine_field(reply: analyzer_pb2.RecommendRoutineResponse) -> dict[str, Any]:
    """SetRoutine's field for the analyzer's routine: JSON text, or the Struct an analyzer from
    before RESULT_ENCODING_JSON answers with."""
    if reply.routine_json:
        return {"routine_json": reply.routine_json}
    return {"routine": reply.routine}
