"""The gateway's task JSON, built from TASK_VIEW_JSON text without parsing the documents, is
the same JSON as TaskView's model dump of the same task read with Structs: over the real stack,
for a task with a result, intake and routine, a failed one with a non-ASCII error, a queued one,
and one whose routine an older version stored."""

from __future__ import annotations

import json
import uuid

import grpc
import psycopg

from gateway.models import TaskView, task_page_json, task_view_json
from skin.storage.v1 import storage_pb2 as pb
from skin.storage.v1 import storage_pb2_grpc
from tests.analyzer.photos import astronaut, encode
from tests.gateway.conftest import wait_for

ERROR = 'Fehler: «Gesicht» nicht gefunden \\ "quoted" 顔\nzweite Zeile'
INTAKE = {"skin_type": "oily", "concerns": ["acne"], "minutes_per_day": 8}


async def both_ways(storage_port: int, authorization: str, task_id: str) -> tuple[dict, dict]:
    metadata = [("authorization", authorization)]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{storage_port}") as channel:
        stub = storage_pb2_grpc.TaskStoreServiceStub(channel)
        full, text = [
            (
                await stub.GetTask(pb.GetTaskRequest(task_id=task_id, view=view), metadata=metadata)
            ).task
            for view in (pb.TASK_VIEW_FULL, pb.TASK_VIEW_JSON)
        ]
        request = pb.ListTasksRequest(view=pb.TASK_VIEW_JSON)
        listed = await stub.ListTasks(request, metadata=metadata)
    page = json.loads(task_page_json(listed.tasks, listed.next_page_token))
    assert task_id in [task["task_id"] for task in page["tasks"]]
    # A storage from before TASK_VIEW_JSON answers with Structs: the same JSON comes out.
    assert json.loads(task_view_json(full)) == json.loads(task_view_json(text))
    return json.loads(task_view_json(text)), TaskView.from_proto(full).model_dump(mode="json")


async def test_spliced_json_equals_the_model_dump(client, headers, storage_server, pg_admin_url):
    selfie = encode(astronaut())
    files = {"image": ("a.jpg", selfie, "image/jpeg")}
    analysed = (await client.post("/tasks", headers=headers, files=files)).json()["task_id"]
    queued = (await client.post("/tasks", headers=headers, files=files)).json()["task_id"]
    await wait_for(client, f"/tasks/{analysed}", headers, lambda b: b["status"] == "succeeded")
    put = await client.put(f"/tasks/{analysed}/intake", headers=headers, json=INTAKE)
    assert put.status_code == 200
    authorization = headers["authorization"]

    spliced, modelled = await both_ways(storage_server.port, authorization, analysed)
    assert spliced["routine"]["schedule"] and spliced["result"]
    assert spliced["intake"].items() >= INTAKE.items()
    assert spliced == modelled
    # The route answers exactly that, and the list and the event stream agree.
    assert put.json() == spliced
    assert (await client.get(f"/tasks/{analysed}", headers=headers)).json() == spliced
    listed = (await client.get("/tasks", headers=headers)).json()["tasks"]
    assert next(task for task in listed if task["task_id"] == analysed) == spliced
    async with client.stream("GET", f"/tasks/{analysed}/events", headers=headers) as events:
        lines = [line async for line in events.aiter_lines() if line.startswith("data: ")]
    assert json.loads(lines[0].removeprefix("data: ")) == spliced

    # A failed task with an error in many scripts, an older routine, a task still queued.
    old_routine = {"version": 0, "steps": "wash, then moisturise — «gently»"}
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            "update public.skin_analysis_tasks set routine_json = %s,"
            " error = %s, status = 'failed', result = null where id = %s",
            (json.dumps(old_routine), ERROR, uuid.UUID(analysed)),
        )
    for task_id in (analysed, queued):
        spliced, modelled = await both_ways(storage_server.port, authorization, task_id)
        assert spliced == modelled
        assert spliced["error"] == (ERROR if task_id == analysed else None)
    assert spliced["status"] in ("queued", "running", "succeeded")
