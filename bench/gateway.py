"""Gateway benchmark: GET /tasks/{id} beside storage's GetTask over gRPC (the hop it wraps), and
POST /tasks latency while analyses run.

Run: `make bench-gateway` (or `.venv/bin/python -m bench.gateway --help`). It starts its own
PostgreSQL cluster and the real storage, analyzer and gateway processes. GETs are driven by
h2load (HTTP/1.1 keep-alive for the gateway, unary gRPC over HTTP/2 for storage) at the same
client counts; the ratio of the two rates is the figure (goal: the HTTP layer keeps >= 0.8x of
storage's rate). The storage baseline is the call the gateway makes (TASK_VIEW_JSON); the
default view, with the documents as Structs, is shown beside it. POST latency is measured by a
few concurrent Python clients, each uploading a real photo, so analyses run all the while.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from functools import partial
from pathlib import Path

import httpx
import psycopg

from bench.cpu import (
    CpuWindow,
    Reader,
    cluster_seconds,
    machine_ceiling,
    main_thread_seconds,
    process_seconds,
)
from bench.report import write_json
from bench.storage import (
    WARM_UP_SECONDS,
    Load,
    Result,
    grpc_frame,
    percentile,
    print_cpu,
    run_h2load,
    wait_healthy,
)
from skin.identity import mint_token
from skin.storage.v1 import storage_pb2 as pb
from storage.embedded_postgres import EmbeddedPostgres, free_port, free_ports
from tests.analyzer.photos import astronaut, encode

ROOT = Path(__file__).resolve().parents[1]


def run_h1_get(
    url: str, token: str, clients: int, seconds: int, work: Path, watched: Mapping[str, Reader]
) -> Result:
    log = work / f"h2load-http-{clients}.log"
    command = [
        "h2load", "--h1", "-c", str(clients), "-t", "1", "-D", str(seconds),
        "--warm-up-time", str(WARM_UP_SECONDS), "--log-file", str(log),
        "-H", f"authorization: Bearer {token}", url,
    ]  # fmt: skip
    with CpuWindow(watched, delay=WARM_UP_SECONDS) as cpu:
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", output).group(1))  # type: ignore[union-attr]
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", output)
    errors = sum(int(n) for n in codes.groups()[1:]) if codes else 0
    latencies = [int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines() if line]
    return Result(
        "gateway GET",
        clients,
        rate,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        errors,
        cpu.per_call(rate * seconds),
    )


async def post_latencies(
    base: str, token: str, photo: bytes, clients: int, seconds: float
) -> tuple[list[float], int]:
    """Latencies of accepted uploads (202), and how many were turned away (429: the gateway
    already holds as many photos as it may; the client waits and retries, as an app would)."""
    latencies: list[float] = []
    refused = 0
    deadline = time.monotonic() + seconds
    headers = {"authorization": f"Bearer {token}"}

    async def client() -> None:
        nonlocal refused
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                files = {"image": ("me.jpg", photo, "image/jpeg")}
                response = await http.post("/tasks", headers=headers, files=files)
                elapsed = 1000 * (time.perf_counter() - started)
                if response.status_code == 429:
                    refused += 1
                    await asyncio.sleep(0.5)
                    continue
                response.raise_for_status()
                latencies.append(elapsed)

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, refused


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gateway did not become ready")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", default="1,8,32", help="client counts for the GET comparison")
    parser.add_argument("--seconds", type=int, default=5, help="measured seconds per cell")
    parser.add_argument("--post-clients", type=int, default=4, help="concurrent uploaders")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.stderr.write("h2load is missing: apt-get install nghttp2-client\n")
        return 2
    work = Path(tempfile.mkdtemp(prefix="skin-bench-gw-"))
    cluster = EmbeddedPostgres(work / "pg", free_port())
    processes: list[subprocess.Popen[bytes]] = []
    try:
        admin_url = cluster.start()
        secret = secrets.token_urlsafe(32)
        ports = dict(zip(("storage", "analyzer", "gateway"), free_ports(3), strict=True))
        env = {
            **os.environ,
            "DATABASE_URL": admin_url,
            "SUPABASE_JWT_SECRET": secret,
            "LOG_LEVEL": "WARNING",
            "STORAGE_HOST": "127.0.0.1",
            "ANALYZER_HOST": "127.0.0.1",
            "GATEWAY_HOST": "127.0.0.1",
            "STORAGE_PORT": str(ports["storage"]),
            "ANALYZER_PORT": str(ports["analyzer"]),
            "GATEWAY_PORT": str(ports["gateway"]),
            "STORAGE_TARGET": f"127.0.0.1:{ports['storage']}",
            "ANALYZER_TARGET": f"127.0.0.1:{ports['analyzer']}",
            "ANALYZER_WORKERS": "1",
        }
        for module in ("storage", "analyzer", "gateway"):
            processes.append(subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=env))
        wait_healthy(ports["storage"], processes[0])
        base = f"http://127.0.0.1:{ports['gateway']}"
        wait_ready(f"{base}/readyz", processes[2])

        user_id = str(uuid.uuid4())
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("insert into auth.users (id) values (%s)", (user_id,))
        token = mint_token(secret, user_id, ttl_seconds=3600)
        photo = encode(astronaut(1024))
        headers = {"authorization": f"Bearer {token}"}
        task_id = httpx.post(
            f"{base}/tasks", headers=headers, files={"image": ("me.jpg", photo, "image/jpeg")}
        ).json()["task_id"]
        for _ in range(100):
            if (
                httpx.get(f"{base}/tasks/{task_id}", headers=headers).json()["status"]
                == "succeeded"
            ):
                break
            time.sleep(0.1)
        # The baseline is the very call the gateway makes for GET /tasks/{id} (TASK_VIEW_JSON);
        # the default view (the documents as Structs, as grpcurl shows them) is shown beside it.
        get_body, full_body = work / "get.bin", work / "get-full.bin"
        get_request = pb.GetTaskRequest(task_id=task_id, view=pb.TASK_VIEW_JSON)
        get_body.write_bytes(grpc_frame(get_request.SerializeToString()))
        full_body.write_bytes(grpc_frame(pb.GetTaskRequest(task_id=task_id).SerializeToString()))

        # Who spends the CPU of each call: the ratio is bounded by the machine's two cores,
        # which the gateway's GET shares with storage, PostgreSQL and h2load.
        watched: dict[str, Reader] = {
            "gateway": partial(process_seconds, processes[2].pid),
            "storage": partial(process_seconds, processes[0].pid),
            "storage main thread": partial(main_thread_seconds, processes[0].pid),
            "PostgreSQL": partial(cluster_seconds, cluster.pgdata),
        }
        results: list[Result] = []
        for clients in (int(c) for c in args.clients.split(",")):
            load = Load(ports["storage"], "GetTask", get_body, token, clients, args.seconds)
            results.append(run_h2load("storage GetTask", load, work, watched))
            load = Load(ports["storage"], "GetTask", full_body, token, clients, args.seconds)
            results.append(run_h2load("GetTask, Structs", load, work, watched))
            url = f"{base}/tasks/{task_id}"
            results.append(run_h1_get(url, token, clients, args.seconds, work, watched))
        posts, refused = asyncio.run(
            post_latencies(base, token, photo, args.post_clients, 3 * args.seconds)
        )
        print_table(results, posts, refused, args.post_clients)
        print_cpu(results)
        print_bounds(results)
        write_json(
            args.json,
            {
                "results": [asdict(result) for result in results],
                "post_ms": {"p50": percentile(posts, 0.5), "p95": percentile(posts, 0.95)},
                "post_refused": refused,
            },
        )
        return 0
    finally:
        # The gateway first: it fails its analyses in flight while storage still answers.
        for process in reversed(processes):
            process.terminate()
            process.wait(30)
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def print_table(results: list[Result], posts: list[float], refused: int, post_clients: int) -> None:
    print(
        f"\ngateway benchmark ({os.cpu_count()} cores): GET /tasks/{{id}} beside storage GetTask\n"
    )
    header = f"{'clients':>7}  {'what':<16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
    print(header)
    print("-" * len(header))
    for r in results:
        figures = f"{r.rate:>8.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>6}"
        print(f"{r.clients:>7}  {r.name:<16} {figures}")
    rates = {(r.name, r.clients): r.rate for r in results}
    for clients in sorted({r.clients for r in results}):
        ratio = rates[("gateway GET", clients)] / rates[("storage GetTask", clients)]
        print(f"clients={clients}: the HTTP layer keeps {ratio:.2f}x of storage's GetTask rate")
    print(
        f"\nPOST /tasks while analyses run ({post_clients} uploaders, {len(posts)} accepted,"
        f" {refused} told to retry later with 429):"
        f" p50 {percentile(posts, 0.5):.1f} ms, p95 {percentile(posts, 0.95):.1f} ms,"
        f" p99 {percentile(posts, 0.99):.1f} ms"
    )


def print_bounds(results: list[Result]) -> None:
    """The ratio's ceiling from the CPU figures: a GET needs the gateway, storage and PostgreSQL
    on the same cores, while storage's own rate is held by its main thread."""
    cores = os.cpu_count() or 1
    cells = {(r.name, r.clients): r.cpu_ms for r in results}
    for clients in sorted({r.clients for r in results}):
        get, alone = cells.get(("gateway GET", clients)), cells.get(("storage GetTask", clients))
        if not get or not alone or not alone.get("storage main thread"):
            continue
        spent, ceiling = machine_ceiling(get, alone["storage main thread"], cores)
        print(
            f"clients={clients}: a GET costs {spent:.2f} ms of CPU in the gateway, storage and"
            f" PostgreSQL, at most {1000 * cores / spent:.0f}/s on {cores} cores; storage's"
            f" main thread holds GetTask to {1000 / alone['storage main thread']:.0f}/s:"
            f" a ceiling of {ceiling:.2f}x"
        )


if __name__ == "__main__":
    sys.exit(main())
