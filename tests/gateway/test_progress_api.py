"""/progress and /progress/compare over the real stack: the user's own succeeded analyses,
in order, with the caveat the photos' quality gives."""

from __future__ import annotations

import numpy as np
import pytest

from tests.analyzer import photos
from tests.gateway.conftest import wait_for
from tests.gateway.test_tasks_api import assert_error, finished


async def analysed(client, headers, image: bytes) -> dict:
    response = await client.post(
        "/tasks", headers=headers, files={"image": ("a.jpg", image, "image/jpeg")}
    )
    assert response.status_code == 202, response.text
    return await wait_for(client, f"/tasks/{response.json()['task_id']}", headers, finished)


@pytest.fixture(scope="module")
def portraits() -> tuple[bytes, bytes, bytes]:
    rgb = photos.astronaut()
    darker = np.clip(rgb.astype(np.float32) * 0.6, 0, 255).astype(np.uint8)
    return photos.encode(rgb), photos.encode(darker), photos.encode(photos.no_face())


async def test_progress_follows_the_users_analyses_and_flags_other_light(
    client, headers, portraits
):
    assert (await client.get("/progress", headers=headers)).json()["analyses"] == []
    bright, dark, no_face = portraits
    first = await analysed(client, headers, bright)
    refused = await analysed(client, headers, no_face)
    second = await analysed(client, headers, dark)
    assert (first["status"], refused["status"], second["status"]) == (
        "succeeded",
        "failed",
        "succeeded",
    )

    progress = (await client.get("/progress", headers=headers)).json()
    assert [a["task_id"] for a in progress["analyses"]] == [first["task_id"], second["task_id"]]
    redness = progress["concerns"]["redness"]["series"]
    assert [point["score"] for point in redness] == [
        first["result"]["concerns"]["redness"]["score"],
        second["result"]["concerns"]["redness"]["score"],
    ]
    latest = progress["latest_change"]
    assert "LIGHTING" in {caveat["code"] for caveat in latest["caveats"]}
    assert latest["comparable"] is False

    # The same pair through the compare view, and the newest one alone.
    compared = await client.get(
        "/progress/compare",
        headers=headers,
        params={"before": first["task_id"], "after": second["task_id"]},
    )
    assert compared.status_code == 200 and compared.json() == latest
    only_last = (await client.get("/progress?last=1", headers=headers)).json()
    assert [a["task_id"] for a in only_last["analyses"]] == [second["task_id"]]
    assert only_last["latest_change"] is None

    refused_pair = await client.get(
        "/progress/compare",
        headers=headers,
        params={"before": first["task_id"], "after": refused["task_id"]},
    )
    assert_error(refused_pair, 409, "ANALYSIS_NOT_SUCCEEDED")


async def test_another_users_analysis_cannot_be_compared(
    client, headers, make_user, token_for, portraits
):
    mine = await analysed(client, headers, portraits[0])
    stranger = {"authorization": f"Bearer {token_for(make_user())}"}
    response = await client.get(
        "/progress/compare",
        headers=stranger,
        params={"before": mine["task_id"], "after": mine["task_id"]},
    )
    assert_error(response, 404)
    assert (await client.get("/progress", headers=stranger)).json()["analyses"] == []
