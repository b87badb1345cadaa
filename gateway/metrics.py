"""Prometheus metrics of the gateway: requests by route and status, latency, task outcomes."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.responses import Response

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "gateway_http_requests_total",
    "HTTP requests.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "gateway_http_request_duration_seconds",
    "HTTP request latency.",
    ["method", "route"],
    registry=REGISTRY,
)
TASKS_FINISHED = Counter(
    "gateway_tasks_finished_total", "Tasks by final status.", ["status"], registry=REGISTRY
)
ANALYSIS_SECONDS = Histogram(
    "gateway_analysis_duration_seconds",
    "From acceptance to a final status (queueing included).",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    """`route` is the path template, never a task id (or "unmatched")."""
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def metrics_response() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
