"""Gateway settings, read once from the environment at start (README, "Configuration")."""

from __future__ import annotations

from pydantic import Field

from skin.contracts import MAX_PHOTO_BYTES
from skin.settings import CommonSettings

# Where the gateway listens when GATEWAY_HOST is unset: loopback in local mode, whose
# POST /local/token mints a token for anyone who can reach the port; every interface when real
# auth is configured (the gateway is the service's public edge).
LOOPBACK, EVERY_INTERFACE = "127.0.0.1", "0.0.0.0"


class GatewaySettings(CommonSettings):
    gateway_host: str | None = Field(
        default=None,
        description="Unset: 127.0.0.1 in local mode (no auth configured), else 0.0.0.0.",
    )
    gateway_port: int = Field(default=8080, ge=0, le=65535)
    storage_target: str = Field(default="127.0.0.1:50051", description="Any gRPC target.")
    analyzer_target: str = Field(
        default="127.0.0.1:50052",
        description="e.g. ipv4:10.0.0.5:50052,10.0.0.6:50052 (round_robin)",
    )
    supabase_service_role_key: str | None = Field(
        default=None, description="The runner's token; minted from the HS256 secret when unset."
    )
    max_upload_bytes: int = Field(
        default=MAX_PHOTO_BYTES,
        ge=1024,
        le=MAX_PHOTO_BYTES,
        description="At most the analyzer's photo limit (skin/contracts.py), checked at start.",
    )
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A request's line and headers must arrive within this."
    )
    call_timeout_seconds: float = Field(default=10.0, gt=0)
    analysis_timeout_seconds: float = Field(
        default=120.0, gt=0, description="One analysis, waiting for a busy analyzer included."
    )
    result_write_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a task's final write is retried through a storage outage.",
    )
    analysis_concurrency: int = Field(default=4, ge=1, description="Analyses sent at once.")
    max_pending_tasks: int = Field(
        default=64, ge=1, description="Accepted tasks held in memory; more: 429 at POST /tasks."
    )
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    event_stream_keepalive_seconds: float = Field(
        default=15.0,
        gt=0,
        le=15,
        description="A comment on an idle event stream this often, so proxies keep it open.",
    )
    max_event_streams_per_user: int = Field(
        default=8, ge=1, description="Open event streams per user per replica; more: 429."
    )
    event_stream_max_seconds: float = Field(
        default=900.0, gt=0, description="An event stream's storage watch ends after this."
    )
    webhook_url: str | None = Field(default=None, description="Where task events are POSTed.")
    webhook_secret: str | None = Field(default=None, description="whsec_<base64>, signs webhooks.")
    webhook_attempts: int = Field(default=6, ge=1, le=20)
    webhook_first_retry_seconds: float = Field(default=1.0, gt=0, description="x4 each retry.")

    @property
    def bind_host(self) -> str:
        """The address to listen on (see LOOPBACK)."""
        if self.gateway_host:
            return self.gateway_host
        return LOOPBACK if self.local_auth else EVERY_INTERFACE

    @property
    def exposed_local_mode(self) -> bool:
        """Local mode on an address other machines can reach: set explicitly, and worth a
        warning, since anyone who reaches it can mint a token."""
        return self.local_auth and self.bind_host not in (LOOPBACK, "localhost", "::1")
