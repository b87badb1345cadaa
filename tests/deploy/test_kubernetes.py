"""deploy/kubernetes, checked offline: rendered as `kubectl apply -k` would (the kustomize
features it uses: resources, namespace, images), every object valid by the Kubernetes API's
own schemas in strict mode (kubernetes-validate), and what an operator relies on: versioned
images, requests and limits, native gRPC probes, a headless Service and an HPA for the
analyzer, a disruption budget per Deployment, and storage and the analyzers reachable only
from the gateway."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
import yaml

from skin.contracts import ANALYZER_SERVICE, STORAGE_SERVICE
from skin.settings import PROJECT_ROOT

BASE = PROJECT_ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSIONS = ["1.31.0", "1.37.0"]
CLUSTER_SCOPED = {"Namespace"}


def load(path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render() -> list[dict[str, Any]]:
    """The kustomization's output for the features it uses (a test fails on any other)."""
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "resources", "images"}
    images = {image["name"]: image for image in kustomization["images"]}
    objects = [doc for resource in kustomization["resources"] for doc in load(BASE / resource)]
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = kustomization["namespace"]
        for container in containers(obj):
            image = images[container["image"]]
            container["image"] = f"{image['newName']}:{image['newTag']}"
    return objects


def containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if obj["kind"] == "Deployment":
        yield from obj["spec"]["template"]["spec"]["containers"]


RENDERED = render()
BY_KIND_NAME = {(obj["kind"], obj["metadata"]["name"]): obj for obj in RENDERED}
DEPLOYMENTS = {name: obj for (kind, name), obj in BY_KIND_NAME.items() if kind == "Deployment"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_in_strict_mode(version):
    for obj in [*RENDERED, *load(BASE / "secret.example.yaml")]:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_validator_has_teeth():
    broken = yaml.safe_load(yaml.safe_dump(DEPLOYMENTS["storage"]))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_images_are_per_service_and_versioned():
    for name, deployment in DEPLOYMENTS.items():
        (container,) = containers(deployment)
        repository, _, tag = container["image"].rpartition(":")
        assert repository.endswith(f"/{name}") and "." in repository.split("/")[0]
        assert tag and tag != "latest", container["image"]
        assert "imagePullPolicy" not in container  # a pinned tag pulls IfNotPresent


def test_every_container_has_requests_limits_and_a_locked_down_context():
    for name, deployment in DEPLOYMENTS.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = containers(deployment)
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}, (name, kind)
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["capabilities"] == {
            "drop": ["ALL"]
        }


@pytest.mark.parametrize(
    ("name", "port", "service"),
    [
        ("storage", 50051, STORAGE_SERVICE),
        ("analyzer", 50052, ANALYZER_SERVICE),
    ],
)
def test_grpc_services_use_native_grpc_probes(name, port, service):
    (container,) = containers(DEPLOYMENTS[name])
    assert container["readinessProbe"]["grpc"] == {"port": port, "service": service}
    assert container["livenessProbe"]["grpc"]["port"] == port
    assert container["startupProbe"]["grpc"]["port"] == port


def test_the_analyzer_scales_behind_a_headless_service():
    assert BY_KIND_NAME["Service", "analyzer"]["spec"]["clusterIP"] == "None"
    hpa = BY_KIND_NAME["HorizontalPodAutoscaler", "analyzer"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "analyzer"
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    config = BY_KIND_NAME["ConfigMap", "skin-analysis"]["data"]
    assert config["ANALYZER_TARGET"] == "dns:///analyzer:50052"
    assert float(config["ANALYZER_MAX_CONNECTION_AGE_SECONDS"]) <= 60


def test_each_deployment_has_a_disruption_budget():
    budgets = {
        obj["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for (kind, _), obj in BY_KIND_NAME.items()
        if kind == "PodDisruptionBudget"
    }
    assert budgets == set(DEPLOYMENTS)


def test_storage_and_analyzers_take_calls_from_the_gateway_only():
    policies = [obj for obj in RENDERED if obj["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert (
        deny and deny[0]["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny[0]["spec"]
    )
    for name, port in (("storage", 50051), ("analyzer", 50052)):
        (policy,) = [
            p for p in policies
            if p["spec"]["podSelector"].get("matchLabels") == {"app.kubernetes.io/name": name}
        ]  # fmt: skip
        (rule,) = policy["spec"]["ingress"]
        assert rule["from"] == [
            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}
        ]
        assert rule["ports"] == [{"port": port, "protocol": "TCP"}]


def test_the_secret_example_holds_every_key_the_manifests_read():
    (secret,) = load(BASE / "secret.example.yaml")
    keys = set(secret["stringData"])
    for deployment in DEPLOYMENTS.values():
        (container,) = containers(deployment)
        for variable in container.get("env", []):
            reference = variable.get("valueFrom", {}).get("secretKeyRef")
            if reference:
                assert reference["name"] == "skin-analysis" and reference["key"] in keys
    assert {"DATABASE_URL", "SUPABASE_JWT_SECRET"} <= keys
