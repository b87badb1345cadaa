"""Load balancing that follows scaling, on one machine: analyzers on their own loopback
addresses (127.0.0.11, .12, ...) behind one DNS name, served by a small DNS server of this
run, as a Kubernetes headless Service serves its pods; two gateways resolve the name and spread
analyses over every address (round_robin) and resolve it again when an analyzer ends a
connection at its maximum age. The checks: 30 tasks spread over three analyzers (each at least
20 %); a fourth analyzer added mid-run gets work within its connection age; a killed analyzer
loses no task."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from dataclasses import dataclass, field

import httpx
from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from reliability.load import selfie
from reliability.stack import Stack
from skin.grpc_health_probe import check
from storage.embedded_postgres import free_ports

NAME = "analyzers.skin.test"
DONE = re.compile(rb"analysis done in")


class Names(BaseResolver):
    """Answers A queries for NAME with the addresses of the analyzers now running."""

    def __init__(self) -> None:
        self.addresses: list[str] = []

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        reply = request.reply()
        if request.q.qtype == QTYPE.A and str(request.q.qname).rstrip(".") == NAME:
            for address in list(self.addresses):
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=0))
        return reply


@dataclass
class Fleet:
    stack: Stack
    connection_age: float
    names: Names = field(default_factory=Names)
    analyzer_port: int = 0
    dns_port: int = 0
    gateway_ports: list[int] = field(default_factory=list)
    servers: list[DNSServer] = field(default_factory=list)

    def start_dns(self) -> None:
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        for tcp in (False, True):
            server = DNSServer(
                self.names, port=self.dns_port, address="127.0.0.1", tcp=tcp, logger=quiet
            )
            server.start_thread()
            self.servers.append(server)

    def add_analyzer(self, index: int) -> str:
        address = f"127.0.0.{10 + index}"
        self.stack.start(
            "analyzer",
            wait=False,
            key=f"analyzer-{index}",
            ANALYZER_HOST=address,
            ANALYZER_PORT=str(self.analyzer_port),
            ANALYZER_WORKERS="1",
            ANALYZER_MAX_CONNECTION_AGE_SECONDS=str(self.connection_age),
            LOG_LEVEL="INFO",
        )
        wait_serving(f"{address}:{self.analyzer_port}")
        self.names.addresses.append(address)
        return address

    def add_gateway(self, index: int, port: int) -> None:
        self.stack.start(
            "gateway",
            wait=False,
            key=f"gateway-{index}",
            GATEWAY_PORT=str(port),
            ANALYZER_TARGET=f"dns://127.0.0.1:{self.dns_port}/{NAME}:{self.analyzer_port}",
            MAX_PENDING_TASKS="32",
        )
        self.gateway_ports.append(port)
        deadline = time.monotonic() + 60
        while not _ready(port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway {index} did not become ready")
            time.sleep(0.2)

    def analyses(self, index: int) -> int:
        return len(DONE.findall((self.stack.workdir / f"analyzer-{index}.log").read_bytes()))

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_serving(target: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not check(target, timeout=1, quiet=True):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no analyzer serving at {target}")
        time.sleep(0.2)


async def _run_tasks(fleet: Fleet, token: str, photo: bytes, count: int, every: float) -> list[str]:
    """Submits `count` tasks, one each `every` seconds, alternating gateways; returns how
    each ended ("lost" when it did not end within two minutes)."""
    headers = {"authorization": f"Bearer {token}"}

    async def one(index: int) -> str:
        await asyncio.sleep(index * every)
        base = f"http://127.0.0.1:{fleet.gateway_ports[index % len(fleet.gateway_ports)]}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            files = {"image": ("selfie.jpg", photo, "image/jpeg")}
            response = await client.post("/tasks", headers=headers, files=files)
            if response.status_code != 202:
                return f"refused {response.status_code}"
            task_id = response.json()["task_id"]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                task = (await client.get(f"/tasks/{task_id}", headers=headers)).json()
                if task.get("status") in ("succeeded", "failed"):
                    return str(task["status"])
                await asyncio.sleep(0.25)
            return "lost"

    return list(await asyncio.gather(*(one(index) for index in range(count))))


@dataclass
class ScalingReport:
    spread: list[int]
    spread_ok: bool
    first_work_seconds: float | None
    first_work_bound: float
    after_kill: list[str]

    @property
    def passed(self) -> bool:
        return (
            self.spread_ok
            and self.first_work_seconds is not None
            and self.first_work_seconds <= self.first_work_bound
            and all(status == "succeeded" for status in self.after_kill)
        )

    def detail(self) -> str:
        shares = ", ".join(f"{count}" for count in self.spread)
        seen = "never" if self.first_work_seconds is None else f"{self.first_work_seconds:.1f} s"
        ended = {status: self.after_kill.count(status) for status in set(self.after_kill)}
        return (
            f"30 tasks over 3 analyzers: {shares} each; a 4th analyzer's first analysis "
            f"{seen} after it was ready (bound {self.first_work_bound:.1f} s); "
            f"with one killed mid-run: {ended}"
        )


async def scaling(stack: Stack, connection_age: float = 4.0) -> ScalingReport:
    fleet = Fleet(stack, connection_age)
    fleet.analyzer_port, fleet.dns_port, *gateway_ports = free_ports(4)
    fleet.start_dns()
    try:
        await asyncio.to_thread(stack.start_database)
        await asyncio.to_thread(stack.start, "storage")
        for index in (1, 2, 3):
            await asyncio.to_thread(fleet.add_analyzer, index)
        for index, port in enumerate(gateway_ports, start=1):
            await asyncio.to_thread(fleet.add_gateway, index, port)
        token = await asyncio.to_thread(stack.new_user)
        photo = selfie()

        # 1. Thirty tasks over three analyzers.
        ended = await _run_tasks(fleet, token, photo, 30, every=0.1)
        spread = [fleet.analyses(index) for index in (1, 2, 3)]
        spread_ok = all(status == "succeeded" for status in ended) and min(spread) >= 0.2 * 30

        # 2. A fourth analyzer joins; work keeps coming; when does it get its first?
        await asyncio.to_thread(fleet.add_analyzer, 4)
        joined = time.monotonic()
        # Bound: the connection age with gRPC's +10 % jitter, then the gateways' minimum time
        # between resolutions (2 s), then a second for the call to arrive.
        bound = 1.1 * connection_age + 2.0 + 1.0
        work = asyncio.create_task(_run_tasks(fleet, token, photo, 40, every=0.25))
        first: float | None = None
        while not work.done() and first is None:
            if fleet.analyses(4) > 0:
                first = time.monotonic() - joined
            await asyncio.sleep(0.1)
        await work

        # 3. Kill one analyzer while tasks run through it: none may be lost.
        after = asyncio.create_task(_run_tasks(fleet, token, photo, 12, every=0.2))
        await asyncio.sleep(1.0)
        stack.processes["analyzer-1"].send_signal(signal.SIGKILL)
        after_kill = await after
        return ScalingReport(spread, spread_ok, first, bound, after_kill)
    finally:
        fleet.stop()
