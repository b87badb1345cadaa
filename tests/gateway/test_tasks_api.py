"""The HTTP contract (README, "Trying it") over PostgreSQL, storage, analyzer and gateway."""

from __future__ import annotations

import json

import jsonschema
import pytest

from skin.contracts import MAX_DECLARED_AGE, MIN_DECLARED_AGE
from skin.intake import intake_digest
from skin.routine import WEEKDAYS
from tests.analyzer import photos
from tests.gateway.conftest import wait_for

TASK_KEYS = {
    "task_id",
    "status",
    "result",
    "error",
    "real_age",
    "intake",
    "routine",
    "created_at",
    "updated_at",
}


@pytest.fixture(scope="module")
def selfie() -> bytes:
    return photos.encode(photos.astronaut())


def finished(body: dict) -> bool:
    return body.get("status") in ("succeeded", "failed")


def assert_error(response, status: int, reason: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["message"] and error["status"]
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    if reason is not None:
        assert error["details"][0]["reason"] == reason, error
    return error


async def test_submit_then_poll_until_the_analysis_is_stored(client, headers, selfie):
    response = await client.post(
        "/tasks",
        headers=headers,
        files={"image": ("me.jpg", selfie, "image/jpeg")},
        data={"real_age": "41"},
    )
    assert response.status_code == 202 and set(response.json()) == {"task_id"}
    task_id = response.json()["task_id"]
    body = await wait_for(client, f"/tasks/{task_id}", headers, finished)
    assert set(body) == TASK_KEYS
    assert body["status"] == "succeeded" and body["error"] is None, body
    assert body["result"]["schema_version"] == "2.5" and body["real_age"] == 41
    assert body["result"]["ageing_signs"]["declared_age"] == 41
    assert body["intake"] is None and body["routine"] is None


async def test_refused_photo_fails_the_task_with_a_message_a_person_can_act_on(client, headers):
    no_face = photos.encode(photos.no_face())
    task_id = (
        await client.post(
            "/tasks", headers=headers, files={"image": ("x.jpg", no_face, "image/jpeg")}
        )
    ).json()["task_id"]
    body = await wait_for(client, f"/tasks/{task_id}", headers, finished)
    assert body["status"] == "failed" and body["result"] is None
    assert body["error"].startswith("No face was found") and "camera" in body["error"]


async def test_idempotency_key_returns_the_same_task(client, headers, selfie):
    key = {"idempotency-key": "retry-42"}
    first = await client.post(
        "/tasks", headers=headers | key, files={"image": ("a.jpg", selfie, "image/jpeg")}
    )
    second = await client.post(
        "/tasks", headers=headers | key, files={"image": ("a.jpg", selfie, "image/jpeg")}
    )
    assert first.json()["task_id"] == second.json()["task_id"]
    await wait_for(client, f"/tasks/{first.json()['task_id']}", headers, finished)
    listed = (await client.get("/tasks", headers=headers)).json()["tasks"]
    assert [t["task_id"] for t in listed] == [first.json()["task_id"]]


async def test_tokens_are_required_and_checked(client, selfie):
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "Basic abc"}):
        assert_error(await client.get("/tasks", headers=headers), 401, "INVALID_TOKEN")
        assert_error(
            await client.post(
                "/tasks", headers=headers, files={"image": ("a.jpg", selfie, "image/jpeg")}
            ),
            401,
        )


async def test_another_users_task_is_not_found(client, headers, make_user, token_for, selfie):
    task_id = (
        await client.post(
            "/tasks", headers=headers, files={"image": ("a.jpg", selfie, "image/jpeg")}
        )
    ).json()["task_id"]
    other = {"authorization": f"Bearer {token_for(make_user())}"}
    assert_error(await client.get(f"/tasks/{task_id}", headers=other), 404, "TASK_NOT_FOUND")
    assert_error(await client.delete(f"/tasks/{task_id}", headers=other), 404)
    assert_error(await client.get(f"/tasks/{task_id}/events", headers=other), 404)


async def test_bad_input_gets_the_right_status(client, headers, selfie):
    assert_error(await client.post("/tasks", headers=headers, content=b"{}"), 415)
    assert_error(
        await client.post(
            "/tasks", headers=headers, files={"other": ("a.jpg", selfie, "image/jpeg")}
        ),
        400,
    )
    html = b"<!doctype html><p>hi</p>"
    assert_error(
        await client.post(
            "/tasks", headers=headers, files={"image": ("a.jpg", html, "image/jpeg")}
        ),
        415,
        "UNSUPPORTED_FORMAT",
    )
    error = assert_error(
        await client.post(
            "/tasks",
            headers=headers,
            files={"image": ("a.jpg", selfie, "image/jpeg")},
            data={"real_age": "old"},
        ),
        400,
    )
    assert error["details"][0]["metadata"]["field"] == "real_age"
    assert_error(await client.get("/tasks/not-a-uuid", headers=headers), 400)
    assert_error(await client.get("/tasks", headers=headers, params={"limit": 0}), 400)
    assert_error(await client.get("/tasks", headers=headers, params={"page_token": "%%%"}), 400)


async def test_upload_over_the_limit_is_413(client, headers):
    huge = b"\xff\xd8\xff" + bytes(21 * 1024 * 1024)
    assert_error(
        await client.post(
            "/tasks", headers=headers, files={"image": ("big.jpg", huge, "image/jpeg")}
        ),
        413,
    )


async def test_list_pages_newest_first_and_delete(client, headers, selfie):
    ids = []
    for _ in range(3):
        ids.append(
            (
                await client.post(
                    "/tasks", headers=headers, files={"image": ("a.jpg", selfie, "image/jpeg")}
                )
            ).json()["task_id"]
        )
    first = (await client.get("/tasks", headers=headers, params={"limit": 2})).json()
    second = (
        await client.get(
            "/tasks", headers=headers, params={"limit": 2, "page_token": first["next_page_token"]}
        )
    ).json()
    assert [t["task_id"] for t in first["tasks"] + second["tasks"]] == list(reversed(ids))
    assert second["next_page_token"] is None
    for task_id in ids:
        await wait_for(client, f"/tasks/{task_id}", headers, finished)
    assert (await client.delete(f"/tasks/{ids[0]}", headers=headers)).status_code == 204
    assert_error(await client.get(f"/tasks/{ids[0]}", headers=headers), 404)


async def test_intake_leads_to_a_routine(client, headers, selfie):
    task_id = (
        await client.post(
            "/tasks", headers=headers, files={"image": ("a.jpg", selfie, "image/jpeg")}
        )
    ).json()["task_id"]
    intake = {"skin_type": "oily", "concerns": ["acne"], "minutes_per_day": 8}
    early = await client.put(f"/tasks/{task_id}/intake", headers=headers, json=intake)
    if early.status_code != 200:  # the analysis may already be done on a fast machine
        assert_error(early, 409, "ANALYSIS_NOT_SUCCEEDED")
    await wait_for(client, f"/tasks/{task_id}", headers, finished)
    bad = assert_error(
        await client.put(
            f"/tasks/{task_id}/intake",
            headers=headers,
            json={"skin_type": "purple", "minutes_per_day": 1},
        ),
        400,
    )
    assert set(bad["details"][0]["metadata"]["fields"].split(",")) == {
        "skin_type",
        "minutes_per_day",
    }
    # The answer is the task with the routine made from this very intake; GET agrees at once.
    # (Found: after PUT, GET showed the new intake beside the old intake's routine.)
    for answers in (intake, {"skin_type": "dry", "minutes_per_day": 20, "allergies": ["nuts"]}):
        response = await client.put(f"/tasks/{task_id}/intake", headers=headers, json=answers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["intake"]["skin_type"] == answers["skin_type"]
        assert body["routine"]["intake_sha256"] == intake_digest(body["intake"])
        assert body["routine"]["am"][-1]["kind"] == "sunscreen"
        assert list(body["routine"]["schedule"]) == list(WEEKDAYS)
        now = (await client.get(f"/tasks/{task_id}", headers=headers)).json()
        assert now["intake"] == body["intake"] and now["routine"] == body["routine"]


async def test_intake_before_the_analysis_succeeds_is_409(client, headers):
    no_face = photos.encode(photos.no_face())
    task_id = (
        await client.post(
            "/tasks", headers=headers, files={"image": ("x.jpg", no_face, "image/jpeg")}
        )
    ).json()["task_id"]
    await wait_for(client, f"/tasks/{task_id}", headers, finished)
    assert_error(
        await client.put(f"/tasks/{task_id}/intake", headers=headers, json={"skin_type": "dry"}),
        409,
        "ANALYSIS_NOT_SUCCEEDED",
    )


async def test_events_stream_progress_then_the_final_status(client, headers, selfie):
    task_id = (
        await client.post(
            "/tasks", headers=headers, files={"image": ("a.jpg", selfie, "image/jpeg")}
        )
    ).json()["task_id"]
    events = []
    async with client.stream("GET", f"/tasks/{task_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "task" and kinds[-1] == "end"
    assert events[-2][0] == "task" and events[-2][1]["status"] == "succeeded"
    fractions = [data["fraction"] for kind, data in events if kind == "progress"]
    assert fractions == sorted(fractions)


async def test_operations_endpoints(client, headers):
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "storage": "SERVING",
        "analyzer": "SERVING",
    }
    await client.get("/tasks", headers=headers)
    metrics = (await client.get("/metrics")).text
    assert 'gateway_http_requests_total{method="GET",route="/tasks",status="200"}' in metrics
    spec = (await client.get("/openapi.json")).json()
    assert {
        "/tasks",
        "/tasks/{task_id}",
        "/tasks/{task_id}/events",
        "/tasks/{task_id}/intake",
    } <= set(spec["paths"])
    assert {"Intake", "Routine", "ErrorBody", "TaskView"} <= set(spec["components"]["schemas"])
    assert (await client.get("/docs")).status_code == 200
    # The declared age's range is published as the services check it (skin/contracts.py).
    form = spec["paths"]["/tasks"]["post"]["requestBody"]["content"]["multipart/form-data"]
    age = form["schema"]["properties"]["real_age"]["anyOf"][0]
    assert (age["minimum"], age["maximum"]) == (MIN_DECLARED_AGE, MAX_DECLARED_AGE)


def task_view_validator(spec: dict) -> jsonschema.Draft202012Validator:
    """A validator for TaskView that resolves references inside the served document."""
    schema = {"$ref": "#/components/schemas/TaskView", "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


async def test_the_openapi_document_describes_what_the_server_answers(client, headers, selfie):
    spec = (await client.get("/openapi.json")).json()
    operations = [op for methods in spec["paths"].values() for op in methods.values()]
    # Operation ids a generated client can use; no FastAPI 422 the server never sends.
    assert {op["operationId"] for op in operations} >= {
        "submit_task", "list_tasks", "get_task", "delete_task", "put_intake", "task_events",
    }  # fmt: skip
    assert "HTTPValidationError" not in json.dumps(spec)
    submit = spec["paths"]["/tasks"]["post"]
    encoding = submit["requestBody"]["content"]["multipart/form-data"]["encoding"]
    assert encoding["image"]["contentType"] == "image/jpeg, image/png, image/webp"
    assert submit["responses"]["202"]["links"]["get_task"]["operationId"] == "get_task"
    # result, intake and routine are published schemas, and a real task fits them all.
    view = spec["components"]["schemas"]["TaskView"]["properties"]
    for field, component in (("result", "AnalysisResult"), ("intake", "Intake")):
        assert {"$ref": f"#/components/schemas/{component}"} in view[field]["anyOf"]
    task_id = (
        await client.post(
            "/tasks", headers=headers, files={"image": ("a.jpg", selfie, "image/jpeg")}
        )
    ).json()["task_id"]
    await wait_for(client, f"/tasks/{task_id}", headers, finished)
    answered = await client.put(
        f"/tasks/{task_id}/intake", headers=headers, json={"skin_type": "dry"}
    )
    body = answered.json()
    assert body["result"] and body["intake"] and body["routine"], body
    task_view_validator(spec).validate(body)
    # The validator has teeth: a result missing a required field does not fit.
    del body["result"]["concerns"]
    assert not task_view_validator(spec).is_valid(body)
