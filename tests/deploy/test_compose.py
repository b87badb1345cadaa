"""docker-compose.yml, checked without a Docker engine (none runs on these machines): valid
by the Compose specification's JSON Schema, and what an operator needs of it: only the
gateway published, restart policies, no default passwords, two analyzers, per-service images
with versions, networks that keep PostgreSQL away from the gateway."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from skin.settings import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES = COMPOSE["services"]
SECRETS = {"POSTGRES_PASSWORD", "STORAGE_DB_PASSWORD", "SUPABASE_JWT_SECRET"}


def test_valid_by_the_compose_specification():
    done = subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
         "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_the_gateway_is_published():
    assert {name for name, service in SERVICES.items() if "ports" in service} == {"gateway"}
    for name, service in SERVICES.items():
        assert "expose" not in service or name == "gateway"


def test_every_service_restarts_and_the_ours_are_hardened():
    for name, service in SERVICES.items():
        assert service.get("restart") == "unless-stopped", name
    for name in ("storage", "analyzer", "gateway"):
        service = SERVICES[name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "healthcheck" in service and service["deploy"]["resources"]["limits"], name


def test_secrets_have_no_defaults_and_fail_clearly():
    text = COMPOSE_FILE.read_text()
    for secret in SECRETS:
        uses = re.findall(rf"\$\{{{secret}(:?[-?])?([^}}]*)\}}", text)
        assert uses, secret
        assert all(operator == ":?" and message for operator, message in uses), (secret, uses)
    example = (PROJECT_ROOT / ".env.example").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required == SECRETS
    assert all(re.search(rf"^{name}=$", example, re.M) for name in required)


def test_two_analyzers_behind_one_name_with_the_gateway_balancing():
    assert SERVICES["analyzer"]["deploy"]["replicas"] == 2
    environment = SERVICES["gateway"]["environment"]
    assert environment["ANALYZER_TARGET"] == "dns:///analyzer:50052"
    assert environment["STORAGE_TARGET"] == "dns:///storage:50051"
    # Reads do not wait on analysis: the gateway starts without the analyzers.
    assert set(SERVICES["gateway"]["depends_on"]) == {"storage"}


def test_each_service_runs_its_own_versioned_image():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    for name in ("storage", "analyzer", "gateway"):
        service = SERVICES[name]
        assert service["build"]["target"] == name
        assert re.search(rf"^FROM runtime AS {name}$", dockerfile, re.M)
        assert service["image"].endswith(f"/{name}:${{VERSION:-0.1.0}}"), service["image"]
    assert re.fullmatch(r"postgres:\d+\.\d+-\w+", SERVICES["postgres"]["image"])


def test_postgres_shares_a_network_with_storage_only():
    def networks(name: str) -> set[str]:
        return set(SERVICES[name]["networks"])

    assert networks("postgres") == {"data"}
    assert networks("postgres") & networks("gateway") == set()
    assert networks("postgres") & networks("analyzer") == set()
    assert COMPOSE["networks"]["data"]["internal"] and COMPOSE["networks"]["backend"]["internal"]
