"""`skinctl` against the real stack: a person's and a script's view, and its exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from storage.embedded_postgres import free_port
from tests.analyzer import photos

SKINCTL = Path(sys.executable).parent / "skinctl"


@pytest.fixture
def skinctl(gateway_url, make_user, token_for):
    """Runs skinctl as a fresh user against the session's gateway."""
    env = {**os.environ, "SKINCTL_URL": gateway_url, "SKINCTL_TOKEN": token_for(make_user())}

    async def run(*args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
        # In a thread: the gateway under test serves from this test's event loop.
        return await asyncio.to_thread(
            subprocess.run, [str(SKINCTL), *args], env=env | overrides, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip

    return run


@pytest.fixture(scope="module")
def selfie_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("skinctl") / "selfie.jpg"
    path.write_bytes(photos.encode(photos.astronaut()))
    return path


async def test_analyze_then_intake_as_a_script_would(skinctl, selfie_file):
    done = await skinctl("--json", "analyze", str(selfie_file), "--age", "41")
    assert done.returncode == 0, done.stderr
    task = json.loads(done.stdout)
    assert task["status"] == "succeeded" and task["result"]["concerns"]
    routine = await skinctl("--json", "intake", task["task_id"], "--skin-type", "oily",
                      "--concern", "acne", "--minutes-per-day", "8")  # fmt: skip
    assert routine.returncode == 0, routine.stderr
    assert json.loads(routine.stdout)["routine"]["am"][-1]["kind"] == "sunscreen"
    listed = json.loads((await skinctl("--json", "list")).stdout)
    assert [t["task_id"] for t in listed["tasks"]] == [task["task_id"]]
    # Global options go anywhere on the line, as gh and kubectl take them.
    fetched = await skinctl("get", task["task_id"], "--json")
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(fetched.stdout)["task_id"] == task["task_id"]
    assert (await skinctl("delete", task["task_id"])).returncode == 0
    assert (await skinctl("get", task["task_id"])).returncode == 4


async def test_analyze_for_a_person_shows_a_table_of_scores(skinctl, selfie_file):
    done = await skinctl("analyze", str(selfie_file))
    assert done.returncode == 0, done.stderr
    assert "concern" in done.stdout and "score" in done.stdout and "redness" in done.stdout
    assert "±" in done.stdout and "margin" in done.stdout


async def test_a_refused_photo_says_why_and_exits_7(skinctl, tmp_path):
    path = tmp_path / "wall.jpg"
    path.write_bytes(photos.encode(photos.no_face()))
    done = await skinctl("analyze", str(path))
    assert done.returncode == 7
    assert "failed" in done.stdout and "face" in done.stdout.lower()


async def test_errors_have_their_own_exit_codes(skinctl, tmp_path):
    assert (await skinctl("get", str(uuid.uuid4()))).returncode == 4
    refused = await skinctl("get", "not-a-task")
    assert refused.returncode == 5 and "task_id" in refused.stderr
    assert (await skinctl("list", SKINCTL_TOKEN="forged")).returncode == 3
    down = await skinctl("list", SKINCTL_URL=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 6 and "cannot reach" in down.stderr
    assert (await skinctl("analyze", str(tmp_path / "missing.jpg"))).returncode == 2


async def test_compare_shows_progress_between_analyses(skinctl, selfie_file, tmp_path):
    empty = await skinctl("compare")
    assert empty.returncode == 0 and "no succeeded analyses" in empty.stdout
    darker = tmp_path / "darker.jpg"
    rgb = photos.astronaut()
    darker.write_bytes(photos.encode((rgb.astype("float32") * 0.6).astype("uint8")))
    first = json.loads((await skinctl("--json", "analyze", str(selfie_file))).stdout)
    second = json.loads((await skinctl("--json", "analyze", str(darker))).stdout)
    pair = await skinctl("compare", first["task_id"], second["task_id"])
    assert pair.returncode == 0, pair.stderr
    assert "redness" in pair.stdout and "not comparable" in pair.stdout  # the light changed
    assert "visible past" in pair.stdout
    trend = await skinctl("--json", "compare", "--last", "5")
    assert [a["task_id"] for a in json.loads(trend.stdout)["analyses"]] == [
        first["task_id"],
        second["task_id"],
    ]
    assert "trend" in (await skinctl("compare")).stdout
    assert (await skinctl("compare", first["task_id"])).returncode == 2


def test_global_options_before_or_after_the_command_mean_the_same():
    from skin.cli import parser

    read = parser().parse_args
    for before, after in (
        (["--json", "get", "T"], ["get", "T", "--json"]),
        (
            ["--url", "http://a:1", "--token", "t", "list"],
            ["list", "--token", "t", "--url", "http://a:1"],
        ),
    ):
        assert vars(read(before)) == vars(read(after))
    # An option given before the command is not reset by the command's own parser.
    assert read(["--json", "--url", "http://a:1", "get", "T"]).url == "http://a:1"
    assert read(["--json", "get", "T"]).json is True
