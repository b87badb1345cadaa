"""Analyzer settings, read once from the environment at start."""

from __future__ import annotations

import os

from pydantic import Field

from skin.settings import CommonSettings


class AnalyzerSettings(CommonSettings):
    analyzer_host: str = Field(
        default="127.0.0.1",
        description="Address to listen on: loopback unless set (containers set 0.0.0.0 and rely "
        "on their private network; the gateway is the only published port).",
    )
    analyzer_port: int = Field(default=50052, ge=0, le=65535)
    analyzer_workers: int = Field(
        default=os.cpu_count() or 1, ge=1, le=64, description="Processes."
    )
    analyzer_max_concurrent: int = Field(
        default=2 * (os.cpu_count() or 1),
        ge=1,
        description="Analyses at once; more: RESOURCE_EXHAUSTED.",
    )
    analyzer_grace_seconds: float = Field(default=20.0, ge=0)
