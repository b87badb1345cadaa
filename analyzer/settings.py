"""Analyzer settings, read once from the environment at start."""

from __future__ import annotations

from pydantic import Field

from skin.cpus import available_cpus
from skin.settings import CommonSettings


class AnalyzerSettings(CommonSettings):
    analyzer_host: str = Field(
        default="127.0.0.1",
        description="Address to listen on: loopback unless set (containers set 0.0.0.0 and rely "
        "on their private network; the gateway is the only published port).",
    )
    analyzer_port: int = Field(default=50052, ge=0, le=65535)
    analyzer_workers: int = Field(
        default_factory=available_cpus,
        ge=1,
        description="Processes; by default the CPUs this process may use (affinity, capped by "
        "the container's CPU quota).",
    )
    analyzer_max_concurrent: int = Field(
        default_factory=lambda data: 2 * data["analyzer_workers"],
        ge=1,
        description="Analyses at once, running or waiting for a worker; more: "
        "RESOURCE_EXHAUSTED. Twice the workers by default.",
    )
    analyzer_max_connection_age_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Connections are closed (gracefully) after about this long, so clients "
        "resolve the service's addresses again and spread onto analyzers added since.",
    )
    analyzer_grace_seconds: float = Field(default=20.0, ge=0)
