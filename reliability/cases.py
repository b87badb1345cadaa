"""The fault and load cases `make reliability` runs, each returning what it promised and saw.

What the system promises (docs/reliability.md): an accepted task always ends `succeeded` or
`failed`; another user's data is never visible; bad input is a clear 4xx, never a 5xx.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from analyzer.pipeline.decode import decode_photo
from analyzer.pipeline.rejection import PhotoRejected
from reliability.load import Tally, app_user, crowd_member, follow, selfie
from reliability.scaling import scaling
from reliability.stack import Stack
from skin.storage.v1 import storage_pb2, storage_pb2_grpc


@dataclass
class Outcome:
    case: str
    tries: int
    passed: bool
    detail: str


async def _visit(stack: Stack, users: int, during: Callable[[], Awaitable[None]]) -> Tally:
    """`users` app users visit again and again (submit, follow to the end, intake) from before
    `during` starts until after it ends, so the fault finds tasks in every stage; then every
    visit in flight is followed to its end."""
    tally, photo = Tally(), selfie()
    tokens = [stack.new_user() for _ in range(users)]
    done = asyncio.Event()

    async def keep_visiting(token: str) -> None:
        while not done.is_set():
            await app_user(client, tally, token, photo)

    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        visits = [asyncio.create_task(keep_visiting(token)) for token in tokens]
        await asyncio.sleep(1.5)  # tasks are queued, running and finishing
        await during()
        await asyncio.sleep(2.0)  # and more arrive after the fault
        done.set()
        await asyncio.gather(*visits)
    return tally


def _ended(tally: Tally) -> tuple[bool, str]:
    endings = {
        status: list(tally.ended.values()).count(status) for status in ("succeeded", "failed")
    }
    detail = (
        f"{len(tally.accepted)} accepted, {endings['succeeded']} succeeded, "
        f"{endings['failed']} failed, {len(tally.unfinished)} unfinished"
    )
    return bool(tally.accepted) and not tally.unfinished, detail


async def kill_nine(stack: Stack, name: str, users: int = 4, down_seconds: float = 3.0) -> Outcome:
    async def fault() -> None:
        await asyncio.to_thread(stack.signal, name, signal.SIGKILL)
        await asyncio.sleep(down_seconds)
        await asyncio.to_thread(stack.start, name)

    tally = await _visit(stack, users, fault)
    passed, detail = _ended(tally)
    return Outcome(
        f"kill -9 {name} under load",
        users,
        passed,
        f"{detail}; 5xx while it was down: {tally.server_error_routes()}",
    )


async def database_outage(stack: Stack, seconds: float, users: int = 4) -> Outcome:
    async def fault() -> None:
        await asyncio.to_thread(stack.stop_database)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(stack.start_database)

    tally = await _visit(stack, users, fault)
    passed, detail = _ended(tally)
    return Outcome(
        f"PostgreSQL stopped {seconds:.0f} s under load",
        users,
        passed,
        f"{detail}; 5xx during the outage: {tally.server_error_routes()}",
    )


async def graceful_stop(stack: Stack, name: str, users: int = 4) -> Outcome:
    codes: list[int | None] = []

    async def fault() -> None:
        codes.append(await asyncio.to_thread(stack.signal, name, signal.SIGTERM))
        await asyncio.to_thread(stack.start, name)

    tally = await _visit(stack, users, fault)
    passed, detail = _ended(tally)
    # uvicorn re-raises the SIGTERM once it has drained, so the gateway ends "by" it.
    drained = bool(codes) and codes[0] in (0, -signal.SIGTERM)
    return Outcome(
        f"SIGTERM to {name} under load",
        users,
        passed and drained,
        f"{detail}; exited with {codes[0] if codes else 'nothing (still running)'}",
    )


async def crowd(stack: Stack, clients: int, seconds: float) -> Outcome:
    """Many clients mixing every route: no 5xx, memory bounded, no leaked connections."""
    tally, photo = Tally(), selfie()
    tokens = [stack.new_user() for _ in range(clients)]
    memory_before = {name: stack.memory_mib(name) for name in ("storage", "gateway", "analyzer")}
    sessions_before = await asyncio.to_thread(stack.database_sessions)
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=stack.url, timeout=60, limits=limits) as client:
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(
                crowd_member(client, tally, token, photo, until, seed)
                for seed, token in enumerate(tokens)
            )
        )
        # Every task the crowd started must end too.
        await asyncio.gather(
            *(
                follow(client, tally, tally.accepted[task_id], task_id, 180)
                for task_id in tally.unfinished
            )
        )
    memory_after = {name: stack.memory_mib(name) for name in memory_before}
    sessions_after = await asyncio.to_thread(stack.database_sessions)
    requests = sum(tally.codes.values())
    growth = ", ".join(
        f"{name} {memory_before[name]:.0f}->{memory_after[name]:.0f} MiB" for name in memory_before
    )
    passed = (
        tally.server_errors == 0
        and not tally.unfinished
        and sessions_after <= max(sessions_before, 12)
    )
    return Outcome(
        f"{clients} clients for {seconds:.0f} s, every route",
        clients,
        passed,
        f"{requests} requests, {tally.server_errors} 5xx, "
        f"{sum(tally.errors.values())} transport errors; {growth}; database sessions "
        f"{sessions_before}->{sessions_after}",
    )


def _seed_images() -> list[bytes]:
    rgb = Image.open(io.BytesIO(selfie(256))).convert("RGB")
    images = []
    for fmt in ("JPEG", "PNG", "WEBP"):
        buffer = io.BytesIO()
        rgb.save(buffer, fmt)
        images.append(buffer.getvalue())
    return images


def decoder_fuzz(examples: int) -> Outcome:
    """Mutated JPEG/PNG/WebP bytes through the decode stage: every one is decoded or refused with
    a reason, nothing else is raised, and no input costs more than the byte budget."""
    seeds = _seed_images()
    crashes: list[str] = []
    peak = [0.0]

    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        seed=st.sampled_from(seeds),
        edits=st.lists(
            st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.sampled_from("xdi")),
            min_size=1,
            max_size=8,
        ),
        cut=st.one_of(st.none(), st.integers(8, 100_000)),
    )
    def one(seed: bytes, edits: list[tuple[int, int, str]], cut: int | None) -> None:
        data = bytearray(seed if cut is None else seed[:cut])
        for position, value, kind in edits:
            at = position % max(len(data), 1)
            if kind == "x" and data:
                data[at] = value
            elif kind == "d" and data:
                del data[at]
            else:
                data.insert(at, value)
        tracemalloc.start()
        try:
            decode_photo(bytes(data))
        except PhotoRejected:
            pass
        except Exception as exc:  # noqa: BLE001 - what the fuzzer looks for
            crashes.append(f"{type(exc).__name__}: {exc}"[:120])
        finally:
            peak[0] = max(peak[0], tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()

    one()
    return Outcome(
        "decoder fuzz (mutated JPEG/PNG/WebP)",
        examples,
        not crashes,
        f"{len(crashes)} crashes{': ' + crashes[0] if crashes else ''}; "
        f"peak {peak[0]:.0f} MiB per input",
    )


async def stream_cap(stack: Stack, extra: int = 4) -> Outcome:
    """One user opens more event streams at once than the cap on a task that waits (created in
    storage over gRPC and never run): exactly the cap are served, the rest get 429, another user
    still gets one, and once they close the user gets one again."""
    cap = int(stack.environment().get("MAX_EVENT_STREAMS_PER_USER", "8"))
    token, other = stack.new_user(), stack.new_user()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.ports['storage']}") as channel:
        created = await storage_pb2_grpc.TaskStoreServiceStub(channel).CreateTask(
            storage_pb2.CreateTaskRequest(), metadata=(("authorization", f"Bearer {token}"),)
        )
    path = f"/tasks/{created.task.id}/events"

    def bearer(who: str) -> dict[str, str]:
        return {"authorization": f"Bearer {who}"}

    async with (
        httpx.AsyncClient(base_url=stack.url, timeout=30) as client,
        AsyncExitStack() as held,
    ):
        opened = await asyncio.gather(
            *(held.enter_async_context(client.stream("GET", path, headers=bearer(token)))
              for _ in range(cap + extra)),
            return_exceptions=True,
        )  # fmt: skip
        codes = [r.status_code if isinstance(r, httpx.Response) else 0 for r in opened]
        # Another user's stream is not counted against this one (theirs is a 404: not their task).
        stranger = (await client.get(path, headers=bearer(other))).status_code
        await held.aclose()
        again = 0
        for _ in range(50):  # the places come back as the closed streams end
            async with client.stream("GET", path, headers=bearer(token)) as response:
                again = response.status_code
            if again == 200:
                break
            await asyncio.sleep(0.1)
    served, refused = codes.count(200), codes.count(429)
    return Outcome(
        f"{cap + extra} event streams for one user, cap {cap}",
        cap + extra,
        served == cap and refused == extra and stranger == 404 and again == 200,
        f"{served} served, {refused} refused (429), other {cap + extra - served - refused}; "
        f"another user {stranger}; after closing {again}",
    )


async def large_uploads(stack: Stack, uploads: int = 40, megabytes: int = 19) -> Outcome:
    """Many concurrent near-limit uploads: the cap holds (the rest are 429) and the gateway's
    memory stays within the cap times the upload size (twice: the body and the parsed photo)
    over its baseline."""
    cap = int(stack.environment().get("MAX_PENDING_TASKS", "64"))
    token = stack.new_user()
    photo = selfie()
    padding = megabytes * 2**20 - len(photo)
    body = photo + b"\0" * max(padding, 0)  # a JPEG with trailing bytes: accepted, then decoded
    baseline = stack.memory_mib("gateway")
    peak = [baseline]
    sampling = True

    async def sample() -> None:
        while sampling:
            peak[0] = max(peak[0], stack.memory_mib("gateway"))
            await asyncio.sleep(0.05)

    codes: list[int] = []
    sampler = asyncio.create_task(sample())
    async with httpx.AsyncClient(base_url=stack.url, timeout=120) as client:

        async def upload() -> None:
            files = {"image": ("big.jpg", body, "image/jpeg")}
            headers = {"authorization": f"Bearer {token}"}
            try:
                response = await client.post("/tasks", headers=headers, files=files)
                codes.append(response.status_code)
            except httpx.HTTPError:
                codes.append(0)

        await asyncio.gather(*(upload() for _ in range(uploads)))
    sampling = False
    await sampler
    bound = baseline + 2 * cap * megabytes + 64
    accepted, refused = codes.count(202), codes.count(429)
    return Outcome(
        f"{uploads} concurrent {megabytes} MB uploads, cap {cap}",
        uploads,
        accepted <= cap and accepted + refused == uploads and peak[0] <= bound,
        f"{accepted} accepted, {refused} refused (429), other {uploads - accepted - refused}; "
        f"gateway {baseline:.0f} MiB -> peak {peak[0]:.0f} MiB (bound {bound:.0f})",
    )


async def contract(stack: Stack, max_examples: int, seconds: int) -> Outcome:
    """Schemathesis with every check against the running gateway's /openapi.json: no server
    error, every response as documented, and every request the document allows accepted (the
    document is exact). The hooks module tells the fuzzer what an image/jpeg part is."""
    token = await asyncio.to_thread(stack.new_user)
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{stack.url}/openapi.json",
        "--checks", "all", "--header", f"Authorization: Bearer {token}",
        "--max-examples", str(max_examples), "--max-time", str(seconds),
        "--continue-on-failure", "--request-timeout", "30", "--seed", "1",
    ]  # fmt: skip
    environment = os.environ | {
        "SCHEMATHESIS_HOOKS": "reliability.schemathesis_hooks",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=environment
    )
    output = (await process.communicate())[0].decode(errors="replace")
    failures = {
        code: int(count)
        for code, count in re.findall(r"❌ (\S+) [^\n]*?: (\d+)\s*$", output, re.MULTILINE)
    }
    generated = re.search(r"(\d+) generated", output)
    errors = re.search(r"^\s*(\d+) errors?\b", output, re.MULTILINE)
    return Outcome(
        "schemathesis, every check, /openapi.json",
        int(generated.group(1)) if generated else 0,
        process.returncode == 0,  # 1: a failure or an error; anything else: it could not run
        f"failures by check: {failures or 'none'}"
        + (f"; {errors.group(1)} errors" if errors else "")
        + ("" if process.returncode in (0, 1) else f"; exit {process.returncode}"),
    )


async def load_balancing(workdir: Path) -> Outcome:
    """Three analyzers and two gateways over one storage, on a stack of its own
    (reliability/scaling.py): spread, a fourth analyzer joining, one killed."""
    stack = Stack(workdir)
    try:
        report = await scaling(stack)
    finally:
        await asyncio.to_thread(stack.stop_all)
    return Outcome(
        "analyzers scaled out, in and killed behind one name", 82, report.passed, report.detail()
    )
