"""Storage benchmark: GetTask and CreateTask over gRPC beside pgbench and a no-op RPC.

Run: `make bench-storage` (or `.venv/bin/python -m bench.storage --help`). It starts its own
PostgreSQL cluster, the real storage server (`python -m storage`) and the no-op server, then for
each client count drives:
  - pgbench -S: select one row by primary key, the database's own floor;
  - GetTask and CreateTask: the real service, token verified, identity set, RLS on;
  - no-op GetTask: the same server stack answering from memory, the framework's ceiling.
Load comes from h2load (unary gRPC as HTTP/2 POSTs), which costs far less CPU than a Python
client. Latency percentiles come from per-request logs. Ratios are against pgbench measured in
the same run, since absolute figures on a shared 2-core machine drift.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import secrets
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.cpu import (
    CpuWindow,
    Reader,
    cluster_seconds,
    main_thread_seconds,
    process_seconds,
    thread_ceiling,
)
from bench.report import write_json
from skin.contracts import STORAGE_SERVICE
from skin.identity import mint_token
from skin.storage.v1 import storage_pb2 as pb
from skin.storage.v1 import storage_pb2_grpc
from storage.embedded_postgres import EmbeddedPostgres, free_ports

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    name: str
    clients: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    # CPU milliseconds per call of each process (or thread) watched while the load ran.
    cpu_ms: dict[str, float] = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def grpc_frame(message: bytes) -> bytes:
    return struct.pack(">?I", False, len(message)) + message


def wait_healthy(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server on {port} exited with {process.returncode}")
            try:
                reply = stub.Check(
                    health_pb2.HealthCheckRequest(service=STORAGE_SERVICE), timeout=1
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not become healthy")


@dataclass
class Load:
    """One h2load run: unary gRPC calls of `method` with a fixed request body."""

    port: int
    method: str
    body: Path
    token: str
    clients: int
    seconds: int


WARM_UP_SECONDS = 1


def run_h2load(name: str, load: Load, work: Path, watched: Mapping[str, Reader]) -> Result:
    """The rate, latencies and errors of one load, and the CPU per call of each `watched`
    process over the measured seconds (after h2load's warm-up)."""
    clients = load.clients
    log = work / f"h2load-{load.method}-{load.port}-{clients}.log"
    command = [
        "h2load", "-c", str(clients), "-m", "1", "-t", "1", "-D", str(load.seconds),
        "--warm-up-time", str(WARM_UP_SECONDS), "-d", str(load.body), "--log-file", str(log),
        "-H", "content-type: application/grpc", "-H", "te: trailers",
        "-H", f"authorization: Bearer {load.token}",
        f"http://127.0.0.1:{load.port}/{STORAGE_SERVICE}/{load.method}",
    ]  # fmt: skip
    with CpuWindow(watched, delay=WARM_UP_SECONDS) as cpu:
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", output).group(1))  # type: ignore[union-attr]
    failed = re.search(r"requests: .*?(\d+) failed, (\d+) errored", output)
    errors = int(failed.group(1)) + int(failed.group(2)) if failed else 0
    latencies = [int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines() if line]
    return Result(
        name, clients, rate, percentile(latencies, 0.5), percentile(latencies, 0.99), errors,
        cpu.per_call(rate * load.seconds),
    )  # fmt: skip


def server_readers(pid: int) -> dict[str, Reader]:
    """A Python gRPC server's CPU: the whole process, and its main thread, the event loop that
    runs every call's Python code; that thread's CPU per call caps the server's rate."""
    return {
        "server": partial(process_seconds, pid),
        "main thread": partial(main_thread_seconds, pid),
    }


def run_pgbench(pg_port: int, password: str, clients: int, seconds: int, work: Path) -> Result:
    prefix = work / f"pgbench-{clients}"
    env = {**os.environ, "PGPASSWORD": password}
    command = [
        "pgbench", "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres", "-S", "-n",
        "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
        "-l", "--log-prefix", str(prefix), "postgres",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    rate = float(re.search(r"tps = ([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latencies: list[float] = []
    for path in glob.glob(f"{prefix}*"):
        latencies.extend(
            int(line.split()[2]) / 1000 for line in Path(path).read_text().splitlines()
        )
    return Result(
        "pgbench -S", clients, rate, percentile(latencies, 0.5), percentile(latencies, 0.99), 0
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", default="1,8,32", help="client counts, comma-separated")
    parser.add_argument("--seconds", type=int, default=5, help="measured seconds per cell")
    parser.add_argument("--pool-size", type=int, default=10, help="STORAGE_POOL_SIZE")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    for tool in ("h2load", "pgbench"):
        if shutil.which(tool) is None:
            sys.stderr.write(
                f"{tool} is missing: apt-get install nghttp2-client postgresql-contrib\n"
            )
            return 2
    work = Path(tempfile.mkdtemp(prefix="skin-bench-"))
    pg_port, storage_port, noop_port = free_ports(3)
    cluster = EmbeddedPostgres(work / "pg", pg_port)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        admin_url = cluster.start()
        pg_password = (work / "pg" / "pg-superuser-password").read_text().strip()
        secret = secrets.token_urlsafe(32)
        env = {
            **os.environ,
            "DATABASE_URL": admin_url,
            "SUPABASE_JWT_SECRET": secret,
            "LOG_LEVEL": "WARNING",
            "STORAGE_HOST": "127.0.0.1",
            "STORAGE_POOL_SIZE": str(args.pool_size),
        }
        storage_env = {**env, "STORAGE_PORT": str(storage_port)}
        noop_command = [sys.executable, "-m", "bench.noop_storage_server", str(noop_port)]
        processes.append(
            subprocess.Popen([sys.executable, "-m", "storage"], cwd=ROOT, env=storage_env)
        )
        processes.append(subprocess.Popen(noop_command, cwd=ROOT, env=env))
        # Storage migrates before it serves: the user below needs its auth.users table.
        wait_healthy(storage_port, processes[0])
        wait_healthy(noop_port, processes[-1])

        user_id = str(uuid.uuid4())
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("insert into auth.users (id) values (%s)", (user_id,))
        token = mint_token(secret, user_id, ttl_seconds=3600)
        with grpc.insecure_channel(f"127.0.0.1:{storage_port}") as channel:
            stub = storage_pb2_grpc.TaskStoreServiceStub(channel)
            md = [("authorization", f"Bearer {token}")]
            task = stub.CreateTask(pb.CreateTaskRequest(real_age=30), metadata=md).task
            get_request = pb.GetTaskRequest(task_id=task.id)
            # The exact bytes h2load will send must succeed, or the rates would measure errors.
            stub.GetTask(get_request, metadata=md)
        get_body, create_body = work / "get.bin", work / "create.bin"
        get_body.write_bytes(grpc_frame(get_request.SerializeToString()))
        create_body.write_bytes(grpc_frame(pb.CreateTaskRequest(real_age=30).SerializeToString()))
        pgbench_init = [
            "pgbench",
            "-i",
            "-q",
            "-s",
            "10",
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
        ]
        pgbench_env = {**os.environ, "PGPASSWORD": pg_password}
        subprocess.run(
            [*pgbench_init, "-U", "postgres", "postgres"],
            env=pgbench_env,
            check=True,
            capture_output=True,
        )

        storage_cpu = server_readers(processes[0].pid) | {
            "PostgreSQL": partial(cluster_seconds, cluster.pgdata)
        }
        cells = [
            ("no-op GetTask", noop_port, "GetTask", get_body, server_readers(processes[1].pid)),
            ("GetTask", storage_port, "GetTask", get_body, storage_cpu),
            ("CreateTask", storage_port, "CreateTask", create_body, storage_cpu),
        ]
        results: list[Result] = []
        for clients in (int(c) for c in args.clients.split(",")):
            results.append(run_pgbench(cluster.port, pg_password, clients, args.seconds, work))
            for name, port, method, body, watched in cells:
                load = Load(port, method, body, token, clients, args.seconds)
                results.append(run_h2load(name, load, work, watched))
        print_table(results)
        print_cpu(results)
        write_json(args.json, {"results": [asdict(result) for result in results]})
        with grpc.insecure_channel(f"127.0.0.1:{storage_port}") as channel:
            stub = storage_pb2_grpc.TaskStoreServiceStub(channel)
            stub.GetTask(get_request, metadata=[("authorization", f"Bearer {token}")])
        return 0
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def print_table(results: list[Result]) -> None:
    floors = {r.clients: r.rate for r in results if r.name == "pgbench -S"}
    header = (
        f"{'clients':>7}  {'what':<14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'× pgbench':>9} {'errors':>6}"
    )
    print(
        f"\nstorage benchmark ({os.cpu_count()} cores), ratios against pgbench -S in the same run"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = r.rate / floors[r.clients] if floors.get(r.clients) else float("nan")
        print(
            f"{r.clients:>7}  {r.name:<14} {r.rate:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f}"
            f" {ratio:>9.3f} {r.errors:>6}"
        )
    by = {(r.name, r.clients): r.rate for r in results}
    for clients in sorted(floors):
        if ("GetTask", clients) in by and ("no-op GetTask", clients) in by:
            share = by[("GetTask", clients)] / by[("no-op GetTask", clients)]
            print(f"clients={clients}: GetTask keeps {share:.2f}× of the no-op stack's rate")


def print_cpu(results: list[Result]) -> None:
    """CPU ms per call of each watched process: a rate ratio traced to who spends the time."""
    watched = [r for r in results if r.cpu_ms]
    if not watched:
        return
    columns = list(dict.fromkeys(name for r in watched for name in r.cpu_ms))
    widths = {name: max(10, len(name)) for name in columns}
    print("\nCPU ms per call, over the measured seconds")
    header = f"{'clients':>7}  {'what':<16}" + "".join(
        f" {name:>{widths[name]}}" for name in columns
    )
    print(header)
    print("-" * len(header))
    for r in watched:
        cells = "".join(
            f" {r.cpu_ms[name]:>{widths[name]}.3f}"
            if name in r.cpu_ms
            else f" {'-':>{widths[name]}}"
            for name in columns
        )
        print(f"{r.clients:>7}  {r.name:<16}{cells}")
    threads = {(r.name, r.clients): r.cpu_ms.get("main thread") for r in watched}
    for clients in sorted({r.clients for r in watched}):
        get, noop = threads.get(("GetTask", clients)), threads.get(("no-op GetTask", clients))
        if get and noop:
            print(
                f"clients={clients}: the main thread spends {get:.3f} ms a GetTask against the"
                f" no-op's {noop:.3f}: at most {thread_ceiling(get, noop):.2f}× of its rate"
                " while that thread is the limit"
            )


if __name__ == "__main__":
    sys.exit(main())
