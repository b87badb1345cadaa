"""Simulated app users over real HTTP: submit a selfie, follow the task to its end, send the
intake; and a mixed crowd that exercises every route, bad requests included."""

from __future__ import annotations

import asyncio
import io
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import cv2
import httpx
from PIL import Image
from skimage import data

FINAL = ("succeeded", "failed")


def selfie(side: int = 1024, quality: int = 92) -> bytes:
    """NASA's portrait of Eileen Collins (public domain, in scikit-image), scaled up."""
    rgb = cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_CUBIC)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@dataclass
class Tally:
    """What the clients saw: status codes per route, accepted tasks and how they ended."""

    codes: Counter[tuple[str, int]] = field(default_factory=Counter)
    accepted: dict[str, str] = field(default_factory=dict)  # task id -> its user's token
    ended: dict[str, str] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)

    def record(self, route: str, response: httpx.Response) -> None:
        self.codes[(route, response.status_code)] += 1

    def server_error_routes(self) -> str:
        """e.g. "PUT /tasks/{id}/intake 503 x2", or "none"."""
        found = [f"{route} {code} x{count}" for (route, code), count in sorted(self.codes.items())
                 if code >= 500]  # fmt: skip
        return ", ".join(found) or "none"

    @property
    def server_errors(self) -> int:
        return sum(count for (_, code), count in self.codes.items() if code >= 500)

    def server_errors_except(self, *allowed: int) -> int:
        return sum(
            count for (_, code), count in self.codes.items() if code >= 500 and code not in allowed
        )

    @property
    def unfinished(self) -> set[str]:
        return set(self.accepted) - set(self.ended)


async def _request(
    client: httpx.AsyncClient, tally: Tally, route: str, method: str, path: str, **kwargs: object
) -> httpx.Response | None:
    try:
        response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        tally.errors[f"{route}: {type(exc).__name__}"] += 1
        return None
    tally.record(route, response)
    return response


async def submit(client: httpx.AsyncClient, tally: Tally, token: str, photo: bytes) -> str | None:
    headers = {"authorization": f"Bearer {token}", "idempotency-key": uuid.uuid4().hex}
    files = {"image": ("selfie.jpg", photo, "image/jpeg")}
    for _ in range(30):  # the same key makes a retry safe
        response = await _request(
            client,
            tally,
            "POST /tasks",
            "POST",
            "/tasks",
            headers=headers,
            files=files,
            data={"real_age": "35"},
        )
        if response is not None and response.status_code == 202:
            task_id = str(response.json()["task_id"])
            tally.accepted[task_id] = token
            return task_id
        if response is not None and response.status_code < 500 and response.status_code != 429:
            return None
        await asyncio.sleep(1.0)
    return None


async def follow(
    client: httpx.AsyncClient, tally: Tally, token: str, task_id: str, seconds: float
) -> str | None:
    """Polls the task until it is final (recorded in the tally) or `seconds` pass."""
    headers = {"authorization": f"Bearer {token}"}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = await _request(
            client, tally, "GET /tasks/{id}", "GET", f"/tasks/{task_id}", headers=headers
        )
        if response is not None and response.status_code == 200:
            status = response.json()["status"]
            if status in FINAL:
                tally.ended[task_id] = status
                return str(status)
        await asyncio.sleep(0.5)
    return None


async def app_user(
    client: httpx.AsyncClient, tally: Tally, token: str, photo: bytes, seconds: float = 180
) -> None:
    """One user's visit: submit, wait for the end, send the intake, read the routine."""
    task_id = await submit(client, tally, token, photo)
    if task_id is None:
        return
    if await follow(client, tally, token, task_id, seconds) == "succeeded":
        headers = {"authorization": f"Bearer {token}"}
        intake = {"skin_type": "combination", "concerns": ["spots"], "minutes_per_day": 8}
        await _request(
            client,
            tally,
            "PUT /tasks/{id}/intake",
            "PUT",
            f"/tasks/{task_id}/intake",
            headers=headers,
            json=intake,
        )


async def crowd_member(
    client: httpx.AsyncClient, tally: Tally, token: str, photo: bytes, until: float, seed: int
) -> None:
    """Mixes every route, bad requests included, until the loop's clock passes `until`."""
    rng = random.Random(seed)
    headers = {"authorization": f"Bearer {token}"}
    mine: list[str] = []
    while time.monotonic() < until:
        pick = rng.random()
        if pick < 0.05 and len(mine) < 2:
            task_id = await submit(client, tally, token, photo)
            if task_id:
                mine.append(task_id)
        elif pick < 0.45:
            await _request(client, tally, "GET /tasks", "GET", "/tasks", headers=headers)
        elif pick < 0.7 and mine:
            await _request(
                client,
                tally,
                "GET /tasks/{id}",
                "GET",
                f"/tasks/{rng.choice(mine)}",
                headers=headers,
            )
        elif pick < 0.8:
            await _request(
                client, tally, "GET /tasks/{id}", "GET", f"/tasks/{uuid.uuid4()}", headers=headers
            )
        elif pick < 0.85:
            await _request(
                client,
                tally,
                "GET /tasks",
                "GET",
                "/tasks",
                headers={"authorization": "Bearer forged"},
            )
        elif pick < 0.9:
            await _request(
                client,
                tally,
                "POST /tasks",
                "POST",
                "/tasks",
                headers=headers,
                content=b"not a form",
            )
        elif pick < 0.95 and mine:
            await _request(
                client,
                tally,
                "PUT /tasks/{id}/intake",
                "PUT",
                f"/tasks/{rng.choice(mine)}/intake",
                headers=headers,
                json={"skin_type": "dry"},
            )
        else:
            await _request(client, tally, "GET /readyz", "GET", "/readyz")
        await asyncio.sleep(rng.uniform(0.0, 0.2))
