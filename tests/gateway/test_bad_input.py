"""Bad input an attacker sent gets a 4xx in the JSON error shape, never a 500 or text/plain,
and nothing is created (each case below answered 500, or was wrongly accepted, before)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from skin.contracts import MAX_DECLARED_AGE
from tests.analyzer import photos
from tests.gateway.test_tasks_api import assert_error

BOUNDARY = "b0undary"
FORM = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"


END = f"--{BOUNDARY}--\r\n".encode()


@pytest.fixture(scope="module")
def image_part() -> bytes:
    return part("image", photos.encode(photos.astronaut()), "a.jpg")


def bodies(image: bytes) -> dict[str, tuple[bytes, str]]:
    """Each malformed upload and the reason it must be refused with."""
    return {
        "superscript three as the age": (image + part("real_age", "³".encode()) + END,
                                         "INVALID_FIELD"),
        "superscript twenty as the age": (image + part("real_age", "²⁰".encode()) + END,
                                          "INVALID_FIELD"),
        "2000 digits as the age": (image + part("real_age", b"1" * 2000) + END, "INVALID_FIELD"),
        "an age past the declared range": (
            image + part("real_age", str(MAX_DECLARED_AGE + 1).encode()) + END,
            "INVALID_FIELD",
        ),
        "the age padded with spaces": (image + part("real_age", b" 30 ") + END, "INVALID_FIELD"),
        "the age given twice": (image + part("real_age", b"30") + part("real_age", b"31") + END,
                                "DUPLICATE_FIELD"),
        "two photos": (image + image + END, "DUPLICATE_FIELD"),
        "an unknown field": (image + part("admin", b"1") + END, "UNKNOWN_FIELD"),
        "no closing boundary": (image, "MALFORMED_FORM"),
        "not multipart at all": (b"garbage without any boundary", "MALFORMED_FORM"),
        "a part header without a colon": (
            f"--{BOUNDARY}\r\nContent-Disposition form-data\r\n\r\nx\r\n".encode() + END,
            "MALFORMED_FORM",
        ),
        "a 1 MB part header": (
            f"--{BOUNDARY}\r\nX-Padding: ".encode() + b"a" * 1_000_000 + b"\r\n\r\nx\r\n" + END,
            "MALFORMED_FORM",
        ),
        "a part with no name": (
            f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n".encode() + END,
            "MALFORMED_FORM",
        ),
        "the photo as a text field": (part("image", b"\xff\xd8\xff") + END, "INVALID_FIELD"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    list(bodies(b"")),
)
async def test_malformed_uploads_are_400(client, headers, image_part, case):
    body, reason = bodies(image_part)[case]
    before = (await client.get("/tasks", headers=headers)).json()["tasks"]
    response = await client.post("/tasks", headers=headers | FORM, content=body)
    assert response.headers["content-type"].startswith("application/json")
    assert_error(response, 400, reason)
    # Nothing was created.
    assert (await client.get("/tasks", headers=headers)).json()["tasks"] == before


@pytest.mark.parametrize(
    "raw_intake",
    [
        b'{"skin_type": "dry", "allergies": ["nuts\\u0000"]}',
        b'{"skin_type": "dry", "allergies": ["\\ud800"]}',
        b'{"skin_type": "dry", "current_products": ["\\u001b[31mred"]}',
    ],
    ids=["NUL", "lone surrogate", "escape sequence"],
)
async def test_intake_text_that_cannot_be_stored_is_400(client, headers, raw_intake):
    response = await client.put(
        f"/tasks/{uuid.uuid4()}/intake",
        headers=headers | {"content-type": "application/json"},
        content=raw_intake,
    )
    assert_error(response, 400, "INVALID_FIELD")


@pytest.mark.parametrize(
    "key",
    [
        ["2020-01-01T00:00:00+00:00", 5],
        ["2020-01-01T00:00:00", str(uuid.uuid4())],
        {"created": "2020-01-01T00:00:00+00:00"},
        [1, 2, 3],
        "just text",
    ],
    ids=["number id", "no offset", "object", "three numbers", "a string"],
)
async def test_page_tokens_of_other_shapes_are_400(client, headers, key):
    token = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    response = await client.get("/tasks", headers=headers, params={"page_token": token})
    error = assert_error(response, 400)
    assert error["details"][0]["metadata"]["field"] == "page_token"


async def test_an_idempotency_key_reused_with_another_photo_is_409(client, headers):
    key = {"idempotency-key": f"key-{uuid.uuid4()}"}
    first_photo = photos.encode(photos.astronaut())
    other_photo = photos.encode(photos.astronaut(), quality=80)
    assert first_photo != other_photo
    first = await client.post(
        "/tasks", headers=headers | key, files={"image": ("a.jpg", first_photo, "image/jpeg")}
    )
    assert first.status_code == 202
    again = await client.post(
        "/tasks", headers=headers | key, files={"image": ("a.jpg", first_photo, "image/jpeg")}
    )
    assert again.json()["task_id"] == first.json()["task_id"]
    other = await client.post(
        "/tasks", headers=headers | key, files={"image": ("a.jpg", other_photo, "image/jpeg")}
    )
    assert_error(other, 409, "IDEMPOTENCY_KEY_REUSED")
    other_age = await client.post(
        "/tasks",
        headers=headers | key,
        files={"image": ("a.jpg", first_photo, "image/jpeg")},
        data={"real_age": "33"},
    )
    assert_error(other_age, 409, "IDEMPOTENCY_KEY_REUSED")


async def test_idempotency_keys_are_scoped_to_their_user(client, headers, make_user, token_for):
    other = {"authorization": f"Bearer {token_for(make_user())}"}
    key = {"idempotency-key": f"shared-{uuid.uuid4()}"}
    files = {"image": ("a.jpg", photos.encode(photos.astronaut()), "image/jpeg")}
    mine = await client.post("/tasks", headers=headers | key, files=files)
    theirs = await client.post("/tasks", headers=other | key, files=files)
    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["task_id"] != theirs.json()["task_id"]
    assert_error(await client.get(f"/tasks/{mine.json()['task_id']}", headers=other), 404)


@pytest.mark.parametrize("token", ["0." + "0" * 32, "99999999999999999." + "f" * 32])
async def test_every_token_of_the_documented_shape_is_accepted(client, headers, token):
    # The published pattern is the whole contract: whatever matches it names a place in the
    # list (the tasks older than it), so it is never refused.
    response = await client.get("/tasks", headers=headers, params={"page_token": token})
    assert response.status_code == 200, response.text
