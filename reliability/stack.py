"""The whole system as separate processes on this machine, for fault runs: an embedded
PostgreSQL cluster, and storage, the analyzer and the gateway started as `python -m ...`, each
of which can be killed, stopped and started again while clients keep using it."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from skin.contracts import ANALYZER_SERVICE, STORAGE_SERVICE
from skin.identity import mint_token
from skin.local_stack import gateway_ready, serving
from storage.embedded_postgres import EmbeddedPostgres, free_ports

SERVICES = ("storage", "analyzer", "gateway")
HEALTH_NAMES = {"storage": STORAGE_SERVICE, "analyzer": ANALYZER_SERVICE}


@dataclass
class Stack:
    """Ports, secret and processes of one run, under `workdir`."""

    workdir: Path
    stale_after_seconds: float = 20.0
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        pg, storage, analyzer, gateway = free_ports(4)
        self.ports = {"storage": storage, "analyzer": analyzer, "gateway": gateway}
        self.postgres = EmbeddedPostgres(self.workdir / "pg", pg, durable=False)
        self.admin_url = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.admin_url,
            "SUPABASE_JWT_SECRET": self.secret,
            "DATA_DIR": str(self.workdir / "data"),
            "LOG_LEVEL": "WARNING",
            "STORAGE_HOST": "127.0.0.1",
            "STORAGE_PORT": str(self.ports["storage"]),
            "ANALYZER_HOST": "127.0.0.1",
            "ANALYZER_PORT": str(self.ports["analyzer"]),
            "ANALYZER_WORKERS": "1",
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.ports["gateway"]),
            "STORAGE_TARGET": f"127.0.0.1:{self.ports['storage']}",
            "ANALYZER_TARGET": f"127.0.0.1:{self.ports['analyzer']}",
            "TASK_STALE_AFTER_SECONDS": str(self.stale_after_seconds),
            "JANITOR_INTERVAL_SECONDS": "1",
            "HEALTH_CHECK_INTERVAL_SECONDS": "0.5",
            "STORAGE_STARTUP_WAIT_SECONDS": "120",
            "ANALYSIS_TIMEOUT_SECONDS": "90",
            "RESULT_WRITE_SECONDS": "120",
            "SHUTDOWN_GRACE_SECONDS": "5",
            "MAX_PENDING_TASKS": "8",
        }

    def start_database(self) -> None:
        self.admin_url = self.postgres.start()

    def stop_database(self) -> None:
        self.postgres.stop()

    def start(
        self, name: str, wait: bool = True, key: str | None = None, **overrides: str
    ) -> subprocess.Popen[bytes]:
        """Starts `python -m name`; `key` names a further instance (its log is `key`.log),
        with `overrides` on top of the shared environment."""
        key = key or name
        log = (self.workdir / f"{key}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", name],
            env=self.environment() | overrides,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1],
        )
        self.processes[key] = process
        if wait:
            self.wait_ready(name)
        return process

    def start_all(self) -> None:
        self.start_database()
        for name in SERVICES:
            self.start(name)

    def ready(self, name: str) -> bool:
        if name == "gateway":
            return gateway_ready(self.ports["gateway"])
        return serving(self.ports[name], HEALTH_NAMES[name])

    def wait_ready(self, name: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while not self.ready(name):
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see its log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready")
            time.sleep(0.2)

    def signal(self, name: str, signum: int = signal.SIGKILL) -> int | None:
        """Sends `signum`; returns the exit code once the process is gone (None if it is not
        gone within 30 s)."""
        process = self.processes[name]
        process.send_signal(signum)
        try:
            return process.wait(30)
        except subprocess.TimeoutExpired:
            return None

    def memory_mib(self, name: str) -> float:
        """Resident memory of the service and its children (the analyzer's workers)."""
        process = self.processes[name]
        pids = [process.pid, *children(process.pid)]
        return sum(rss_mib(pid) for pid in pids)

    def new_user(self) -> str:
        """A signed-up user's token (the auth.users row Supabase's sign-up would make)."""
        user_id = str(uuid.uuid4())
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute("insert into auth.users (id) values (%s)", (user_id,))
        return mint_token(self.secret, user_id)

    def database_sessions(self, role: str = "skin_storage") -> int:
        with psycopg.connect(self.admin_url) as conn:
            row = conn.execute(
                "select count(*) from pg_stat_activity where usename = %s", (role,)
            ).fetchone()
        return int(row[0]) if row else 0

    def stop_all(self) -> None:
        # Gateways first, then analyzers, then storage (further instances included).
        order = {"gateway": 0, "analyzer": 1, "storage": 2}
        for name in sorted(self.processes, key=lambda key: order.get(key.split("-")[0], 0)):
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.postgres.stop()


def children(pid: int) -> list[int]:
    """The process's children: from each thread's /proc children list (cheap: the benchmarks
    sample memory every 50 ms beside the system they measure), else a scan of /proc."""
    if Path(f"/proc/{pid}/task/{pid}/children").exists():
        try:
            return [
                int(child)
                for listing in Path(f"/proc/{pid}/task").glob("*/children")
                for child in listing.read_text().split()
            ]
        except OSError:
            pass
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_mib(pid: int) -> float:
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
