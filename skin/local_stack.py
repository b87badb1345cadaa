"""`make run`: the local stack as child processes — storage (on its own embedded PostgreSQL
unless DATABASE_URL is set), the analyzer and the gateway — waits until each is healthy, says
where they are, and stops them all on Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from skin.contracts import ANALYZER_SERVICE, STORAGE_SERVICE
from skin.grpc_health_probe import check

SERVICES = (
    ("storage", "STORAGE_PORT", 50051, STORAGE_SERVICE),
    ("analyzer", "ANALYZER_PORT", 50052, ANALYZER_SERVICE),
)
START_SECONDS = 120
GATEWAY_PORT_VARIABLE, GATEWAY_DEFAULT_PORT = "GATEWAY_PORT", 8080


def gateway_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def serving(port: int, service: str) -> bool:
    return check(f"127.0.0.1:{port}", service, timeout=1, quiet=True)


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the stack the way Ctrl-C does


def gateway_environment() -> dict[str, str]:
    """The gateway calls storage and the analyzer where they listen: when STORAGE_PORT or
    ANALYZER_PORT moves them, the gateway's targets follow unless set explicitly."""
    env = dict(os.environ)
    for (_module, variable, default, _), target in zip(
        SERVICES, ("STORAGE_TARGET", "ANALYZER_TARGET"), strict=True
    ):
        env.setdefault(target, f"127.0.0.1:{os.environ.get(variable, default)}")
    return env


def main() -> int:
    children: list[subprocess.Popen[bytes]] = []
    # SIGTERM (`kill %1` for a `make run &`) and SIGHUP (the terminal closed) stop the stack the
    # way Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        for module, _, _, _ in SERVICES:
            children.append(subprocess.Popen([sys.executable, "-m", module]))
        children.append(
            subprocess.Popen([sys.executable, "-m", "gateway"], env=gateway_environment())
        )
        deadline = time.monotonic() + START_SECONDS
        for (module, variable, default, service), child in zip(SERVICES, children, strict=False):
            port = int(os.environ.get(variable, default))
            while not serving(port, service):
                if child.poll() is not None or time.monotonic() > deadline:
                    sys.stderr.write(f"{module} did not start; see its log above\n")
                    return 1
                time.sleep(0.3)
            sys.stderr.write(f"{module} is serving on 127.0.0.1:{port}\n")
        gateway_port = int(os.environ.get(GATEWAY_PORT_VARIABLE, GATEWAY_DEFAULT_PORT))
        while not gateway_ready(gateway_port):
            if children[-1].poll() is not None or time.monotonic() > deadline:
                sys.stderr.write("gateway did not start; see its log above\n")
                return 1
            time.sleep(0.3)
        sys.stderr.write(
            f"ready: the API is at http://127.0.0.1:{gateway_port} (docs: /docs)\n"
            "A token for a new local user: TOKEN=$(.venv/bin/python -m skin.mint_token)\n"
            "Ctrl-C stops everything.\n"
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        sys.stderr.write("a service stopped; stopping the rest\n")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(children)


if __name__ == "__main__":
    sys.exit(main())
