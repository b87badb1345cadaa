"""Where the gateway listens: loopback in local mode unless GATEWAY_HOST says otherwise, since
local mode's POST /local/token mints a token for anyone who can reach the port. Checked on the
real process, from the kernel's own table of listening sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.settings import GatewaySettings
from storage.embedded_postgres import free_port

AUTH_VARIABLES = ("SUPABASE_JWT_SECRET", "SUPABASE_JWKS_URL", "GATEWAY_HOST")


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses with a socket listening on `port` (/proc/net/tcp, state 0A)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, port_hex = fields[1].split(":")
        if fields[3] == "0A" and int(port_hex, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def start_gateway(tmp_path: Path, **extra: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in AUTH_VARIABLES}
    env |= {"GATEWAY_PORT": str(port), "DATA_DIR": str(tmp_path), **extra}
    child = subprocess.Popen(
        [sys.executable, "-m", "gateway"], env=env, stderr=subprocess.PIPE, text=True
    )
    return child, port


def wait_listening(child: subprocess.Popen[str], port: int) -> set[str]:
    deadline = time.monotonic() + 60
    while not (addresses := listening_addresses(port)):
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "the gateway did not listen"
        time.sleep(0.2)
    return addresses


def stop(child: subprocess.Popen[str]) -> str:
    child.terminate()
    _, stderr = child.communicate(timeout=30)
    return stderr


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_local_mode_listens_on_loopback_only(tmp_path):
    child, port = start_gateway(tmp_path)
    try:
        assert wait_listening(child, port) == {"127.0.0.1"}
    finally:
        log = stop(child)
    assert "anyone who can reach this port" not in log


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_local_mode_on_every_interface_when_asked_and_it_warns(tmp_path):
    child, port = start_gateway(tmp_path, GATEWAY_HOST="0.0.0.0")
    try:
        assert wait_listening(child, port) == {"0.0.0.0"}
    finally:
        log = stop(child)
    assert "anyone who can reach this port can mint a token" in log


def test_with_real_auth_the_default_is_every_interface(monkeypatch):
    for name in AUTH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert GatewaySettings().bind_host == "127.0.0.1"
    monkeypatch.setenv("SUPABASE_JWT_SECRET", "x" * 32)
    settings = GatewaySettings()
    assert settings.bind_host == "0.0.0.0" and not settings.exposed_local_mode
    monkeypatch.setenv("GATEWAY_HOST", "10.1.2.3")
    assert GatewaySettings().bind_host == "10.1.2.3"
