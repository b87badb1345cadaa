"""/progress: how the user's skin measures over time, from their own succeeded analyses."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from gateway.deps import BackendsDep, CurrentUser, User
from gateway.errors import ApiError
from gateway.models import ErrorBody
from gateway.routes.tasks import ERROR_RESPONSES, call_timeout
from gateway.trends import Comparison, ProgressReport, Snapshot, compare, report
from skin.storage.v1 import storage_pb2
from skin.structs import from_struct

router = APIRouter(prefix="/progress", tags=["progress"])

# How far back a report looks for succeeded analyses among failed and pending ones.
MAX_PAGES, PAGE_SIZE = 10, 100


def _snapshot(task: storage_pb2.Task) -> Snapshot:
    return Snapshot(
        task_id=task.id,
        created_at=task.create_time.ToDatetime(tzinfo=UTC),
        result=from_struct(task.result),
    )


async def _succeeded(
    request: Request, user: User, backends: BackendsDep, last: int
) -> list[Snapshot]:
    """The user's `last` newest succeeded analyses, oldest first."""
    found: list[Snapshot] = []
    token = ""
    for _ in range(MAX_PAGES):
        page = await backends.storage.ListTasks(
            storage_pb2.ListTasksRequest(page_size=PAGE_SIZE, page_token=token),
            metadata=user.metadata(),
            timeout=call_timeout(request),
        )
        found += [
            _snapshot(task)
            for task in page.tasks
            if task.status == storage_pb2.TASK_STATUS_SUCCEEDED and task.HasField("result")
        ]
        token = page.next_page_token
        if len(found) >= last or not token:
            break
    return found[:last][::-1]


@router.get("", response_model=ProgressReport, responses=ERROR_RESPONSES)
async def get_progress(
    request: Request,
    user: CurrentUser,
    backends: BackendsDep,
    last: Annotated[
        int, Query(ge=1, le=50, description="How many of the newest succeeded analyses to use.")
    ] = 10,
) -> ProgressReport:
    """Each concern over the user's last succeeded analyses: the series, a robust trend, and
    the latest change, each marked comparable or not from the photos' quality figures."""
    return report(await _succeeded(request, user, backends, last))


async def _one(request: Request, user: User, backends: BackendsDep, task_id: UUID) -> Snapshot:
    task = (
        await backends.storage.GetTask(
            storage_pb2.GetTaskRequest(task_id=str(task_id)),
            metadata=user.metadata(),
            timeout=call_timeout(request),
        )
    ).task
    if task.status != storage_pb2.TASK_STATUS_SUCCEEDED or not task.HasField("result"):
        raise ApiError(
            409,
            "ANALYSIS_NOT_SUCCEEDED",
            "only succeeded analyses can be compared",
            task_id=task.id,
        )
    return _snapshot(task)


@router.get(
    "/compare",
    response_model=Comparison,
    responses={
        **ERROR_RESPONSES,
        409: {"model": ErrorBody, "description": "One of the tasks has not succeeded."},
    },
)
async def compare_analyses(
    request: Request,
    user: CurrentUser,
    backends: BackendsDep,
    before: Annotated[UUID, Query(description="The earlier analysis (a task id).")],
    after: Annotated[UUID, Query(description="The later analysis (a task id).")],
) -> Comparison:
    """The change of each concern from one analysis to another, and whether the two photos
    are comparable enough for the change to mean something."""
    return compare(
        await _one(request, user, backends, before), await _one(request, user, backends, after)
    )
