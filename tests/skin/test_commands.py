"""The small commands a newcomer runs: a token from anywhere, a sample selfie, `make run`'s
wiring, and a quiet start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt

from skin.local_stack import gateway_environment
from skin.settings import PROJECT_ROOT

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR",)}
    environment.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=environment, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_mint_token_signs_with_the_checkouts_secret_from_any_directory(tmp_path):
    # Found: run outside the checkout, it made a new secret in ./.data and its token was
    # refused by the services.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    minted = run(["-m", "skin.mint_token"], elsewhere, SUPABASE_JWT_SECRET="", SUPABASE_JWKS_URL="")
    assert minted.returncode == 0, minted.stderr
    assert not (elsewhere / ".data").exists()
    secret = (PROJECT_ROOT / ".data" / "dev-jwt-secret").read_text().strip()
    claims = jwt.decode(
        minted.stdout.strip(), secret, algorithms=["HS256"], audience="authenticated"
    )
    assert claims["role"] == "authenticated"


def test_make_run_points_the_gateway_where_storage_and_the_analyzer_listen(monkeypatch):
    # Found: with STORAGE_PORT or ANALYZER_PORT set, the gateway still called the defaults.
    monkeypatch.setenv("STORAGE_PORT", "6101")
    monkeypatch.setenv("ANALYZER_PORT", "6102")
    monkeypatch.delenv("STORAGE_TARGET", raising=False)
    monkeypatch.delenv("ANALYZER_TARGET", raising=False)
    env = gateway_environment()
    assert env["STORAGE_TARGET"] == "127.0.0.1:6101"
    assert env["ANALYZER_TARGET"] == "127.0.0.1:6102"


def test_the_analyzer_starts_without_alarming_tracebacks():
    # Found: every start printed "AttributeError: 'MessageFactory' object has no attribute
    # 'GetPrototype'" from MediaPipe's bindings under protobuf 6.
    started = run(["-c", "import analyzer.pipeline.face_model"], ROOT)
    assert started.returncode == 0
    assert "AttributeError" not in started.stderr and "Traceback" not in started.stderr
