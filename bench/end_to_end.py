"""End to end, as the app loads the system: N simulated users each POST a 12 MP selfie, follow
its event stream to the end, PUT the intake and GET the task, until M tasks are done. The
baseline, measured in the same run on the same processes: the analyzer alone over gRPC, the
same photo, the same concurrency. The two alternate, half the tasks at a time (baseline, end to
end, end to end, baseline), so a host that speeds up or slows down in the meantime does not
favour either. Prints tasks/s for both and the ratio (goal: end to end
keeps at least 0.8x), latency from POST to `succeeded` (p50/p95/p99), POST p95, errors, and
each process's peak resident memory (the analyzer's workers included) and CPU per task (the
load generator's own too: it shares the machine, and PostgreSQL's).

    python -m bench.end_to_end [--users 4] [--tasks 24] [--json build/bench/end_to_end.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import aiohttp
import grpc

from bench.analyzer import camera_jpeg
from bench.cpu import Reader, cluster_seconds, snapshot, tree_seconds
from bench.report import write_json
from reliability.stack import Stack
from skin.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from skin.identity import mint_token

ALONE, APP = "analyzer alone", "end to end"
INTAKE = {"skin_type": "combination", "concerns": ["spots"], "minutes_per_day": 8}


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Run:
    tasks: int
    seconds: float
    errors: int
    to_succeeded_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return (self.tasks - self.errors) / self.seconds


def combined(runs: list[Run]) -> Run:
    """Several runs of one kind as one: their tasks, time, errors and latencies together."""
    return Run(
        sum(run.tasks for run in runs),
        sum(run.seconds for run in runs),
        sum(run.errors for run in runs),
        [ms for run in runs for ms in run.to_succeeded_ms],
        [ms for run in runs for ms in run.post_ms],
    )


class PeakMemory:
    """Samples each process's resident memory every 50 ms while a run lasts."""

    def __init__(self, stack: Stack, names: tuple[str, ...]) -> None:
        self.stack, self.names = stack, names
        self.peak = dict.fromkeys(names, 0.0)
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            for name in self.names:
                self.peak[name] = max(self.peak[name], self.stack.memory_mib(name))
            await asyncio.sleep(0.05)

    async def __aenter__(self) -> PeakMemory:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def analyzer_alone(port: int, token: str, photo: bytes, users: int, tasks: int) -> Run:
    """The baseline: AnalyzeFace over gRPC, `users` at a time, `tasks` in all."""
    metadata = (("authorization", f"Bearer {token}"),)
    options = [("grpc.max_send_message_length", 64 * 2**20)]
    remaining, errors, latencies = tasks, 0, []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        stub = analyzer_pb2_grpc.AnalyzerServiceStub(channel)

        async def user() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                request = analyzer_pb2.AnalyzeFaceRequest(image=photo, real_age=40)
                try:
                    async for _event in stub.AnalyzeFace(request, metadata=metadata, timeout=120):
                        pass
                    latencies.append(1e3 * (time.perf_counter() - started))
                except grpc.aio.AioRpcError:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(users)))
    return Run(tasks, time.perf_counter() - started, errors, latencies)


def multipart_photo(photo: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with the photo as the `image` part, and its content type."""
    boundary = "skin-bench-" + os.urandom(8).hex()
    head = (
        f'--{boundary}\r\ncontent-disposition: form-data; name="image"; '
        f'filename="selfie.jpg"\r\ncontent-type: image/jpeg\r\n\r\n'
    )
    body = head.encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def final_status(stream: bytes) -> str | None:
    """The status of a finished event stream's last `end` event, or None without one."""
    marker = stream.rfind(b"event: end\n")
    if marker < 0:
        return None
    data = stream[marker:].split(b"\n", 2)[1]
    return str(json.loads(data.removeprefix(b"data: "))["status"])


async def app_users(base: str, token: str, photo: bytes, users: int, tasks: int) -> Run:
    """End to end: POST, the event stream to the end, PUT intake, GET; `users` at a time.

    The load generator shares the machine with the system it measures, so it spends as little
    CPU per task as it can (and reports it): aiohttp, and the multipart body built once."""
    headers = {"authorization": f"Bearer {token}"}
    upload_body, upload_type = multipart_photo(photo)
    post_headers = {**headers, "content-type": upload_type}
    intake = json.dumps(INTAKE).encode()
    put_headers = {**headers, "content-type": "application/json"}
    remaining, errors, to_succeeded, posts = tasks, 0, [], []
    connector = aiohttp.TCPConnector(limit=4 * users)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def one() -> bool:
            started = time.perf_counter()
            async with client.post("/tasks", headers=post_headers, data=upload_body) as response:
                posted = time.perf_counter()
                if response.status != 202:
                    return False
                task_id = (await response.json())["task_id"]
            posts.append(1e3 * (posted - started))
            async with client.get(f"/tasks/{task_id}/events", headers=headers) as events:
                stream = await events.read()
            if final_status(stream) != "succeeded":
                return False
            to_succeeded.append(1e3 * (time.perf_counter() - started))
            async with client.put(
                f"/tasks/{task_id}/intake", headers=put_headers, data=intake
            ) as put:
                await put.read()
            async with client.get(f"/tasks/{task_id}", headers=headers) as got:
                await got.read()
            return put.status == 200 and got.status == 200

        async def user() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                try:
                    errors += 0 if await one() else 1
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(users)))
    return Run(tasks, time.perf_counter() - started, errors, to_succeeded, posts)


async def measure(users: int, tasks: int) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="skin-bench-e2e-"))
    stack = Stack(workdir, stale_after_seconds=900)
    workers = str(os.cpu_count() or 1)
    try:
        await asyncio.to_thread(stack.start_database)
        await asyncio.to_thread(stack.start, "storage")
        await asyncio.to_thread(
            stack.start, "analyzer", True, None, ANALYZER_WORKERS=workers,
            ANALYZER_MAX_CONCURRENT=str(4 * users),
        )  # fmt: skip
        await asyncio.to_thread(stack.start, "gateway", True, None, MAX_PENDING_TASKS="64")
        photo = camera_jpeg(4032, 3024, noise=3.0)
        service = mint_token(stack.secret, None, role="service_role")
        token = await asyncio.to_thread(stack.new_user)
        # Warm both paths (models loaded, connections open), then measure.
        await analyzer_alone(stack.ports["analyzer"], service, photo, users, users)
        await app_users(stack.url, token, photo, users, users)
        names = ("storage", "analyzer", "gateway")

        readers: dict[str, Reader] = {
            name: partial(tree_seconds, stack.processes[name].pid) for name in names
        }
        readers |= {
            "PostgreSQL": partial(cluster_seconds, stack.postgres.pgdata),
            "load generator": time.process_time,
        }

        runs: dict[str, list[Run]] = {ALONE: [], APP: []}
        spent = {kind: dict.fromkeys(readers, 0.0) for kind in runs}
        peaks = {ALONE: {"analyzer": 0.0}, APP: dict.fromkeys(names, 0.0)}
        # In ABBA order, half the tasks each time: a drift of the shared host during the run
        # (it can change speed within minutes) then weighs on both sides alike.
        half = tasks // 2
        for kind, count in ((ALONE, half), (APP, half), (APP, tasks - half), (ALONE, tasks - half)):
            before = snapshot(readers)
            async with PeakMemory(stack, tuple(peaks[kind])) as memory:
                if kind == ALONE:
                    run = await analyzer_alone(
                        stack.ports["analyzer"], service, photo, users, count
                    )
                else:
                    run = await app_users(stack.url, token, photo, users, count)
            after = snapshot(readers)
            runs[kind].append(run)
            for name in readers:
                spent[kind][name] += after[name] - before[name]
            for name, mib in memory.peak.items():
                peaks[kind][name] = max(peaks[kind][name], mib)
        alone, full = combined(runs[ALONE]), combined(runs[APP])
    finally:
        await asyncio.to_thread(stack.stop_all)
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "users": users,
        "tasks": tasks,
        "photo_mb": round(len(photo) / 1e6, 2),
        "analyzer_alone": {
            "tasks_per_s": alone.rate,
            "errors": alone.errors,
            "p50_ms": statistics.median(alone.to_succeeded_ms),
            "peak_mib": peaks[ALONE],
            "cpu_ms_per_task": {name: 1e3 * cpu / tasks for name, cpu in spent[ALONE].items()},
        },
        "end_to_end": {
            "tasks_per_s": full.rate,
            "errors": full.errors,
            "to_succeeded_ms": {
                "p50": percentile(full.to_succeeded_ms, 0.5),
                "p95": percentile(full.to_succeeded_ms, 0.95),
                "p99": percentile(full.to_succeeded_ms, 0.99),
            },
            "post_p95_ms": percentile(full.post_ms, 0.95),
            "peak_mib": peaks[APP],
            "cpu_ms_per_task": {name: 1e3 * cpu / tasks for name, cpu in spent[APP].items()},
        },
        "ratio": full.rate / alone.rate,
    }


def print_report(report: dict[str, object]) -> None:
    alone, full = report["analyzer_alone"], report["end_to_end"]
    assert isinstance(alone, dict) and isinstance(full, dict)
    print(
        f"\nend to end ({os.cpu_count()} cores, {report['users']} users, {report['tasks']} tasks"
        f" of a {report['photo_mb']} MB 12 MP JPEG), against the analyzer alone in the same run"
    )
    print(f"{'what':<34} {'tasks/s':>8} {'errors':>6}")
    print("-" * 50)
    print(f"{'analyzer alone over gRPC':<34} {alone['tasks_per_s']:>8.2f} {alone['errors']:>6}")
    print(f"{'POST, events, PUT intake, GET':<34} {full['tasks_per_s']:>8.2f} {full['errors']:>6}")
    print(f"end to end keeps {report['ratio']:.2f}x of the analyzer alone (goal: at least 0.80)")
    latency = full["to_succeeded_ms"]
    print(
        f"POST to succeeded: p50 {latency['p50']:.0f} ms, p95 {latency['p95']:.0f} ms, "
        f"p99 {latency['p99']:.0f} ms; POST p95 {full['post_p95_ms']:.0f} ms"
    )
    peaks = ", ".join(f"{name} {mib:.0f} MiB" for name, mib in full["peak_mib"].items())
    print(f"peak memory during the run: {peaks}")
    for label, run in (("analyzer alone", alone), ("end to end", full)):
        spent = ", ".join(f"{name} {ms:.0f}" for name, ms in run["cpu_ms_per_task"].items())
        print(f"CPU ms per task, {label}: {spent}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", type=int, default=4, help="concurrent users")
    parser.add_argument("--tasks", type=int, default=24, help="tasks per measured run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    report = asyncio.run(measure(args.users, args.tasks))
    print_report(report)
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
