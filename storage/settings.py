"""Storage settings, read once from the environment at start (README, "Configuration")."""

from __future__ import annotations

from pydantic import Field

from skin.settings import CommonSettings


class StorageSettings(CommonSettings):
    database_url: str | None = Field(default=None, description="Unset: an embedded cluster.")
    database_admin_url: str | None = Field(default=None, description="Role that may migrate.")
    storage_db_password: str | None = Field(default=None, description="Login role's password.")
    storage_db_role: str = Field(default="skin_storage", description="The service's login role.")
    storage_host: str = Field(
        default="127.0.0.1",
        description="Address to listen on: loopback unless set (containers set 0.0.0.0).",
    )
    storage_port: int = Field(default=50051, ge=0, le=65535)
    storage_pool_size: int = Field(default=10, ge=1, le=200)
    storage_max_call_seconds: float = Field(default=10.0, gt=0, description="Deadline cap.")
    storage_grace_seconds: float = Field(default=10.0, ge=0, description="Drain on SIGTERM.")
    storage_max_connection_age_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Connections end (gracefully) after about this long, so clients spread "
        "onto storage replicas added since.",
    )
    task_stale_after_seconds: float = Field(
        default=900.0, gt=0, description="Queued/running longer than this: failed by the janitor."
    )
    janitor_interval_seconds: float = Field(default=30.0, gt=0)
    health_check_interval_seconds: float = Field(
        default=2.0, gt=0, description="How often gRPC health re-checks the database."
    )
    storage_startup_wait_seconds: float = Field(
        default=60.0, ge=0, description="How long to wait for the database at start."
    )
    embedded_pg_port: int = Field(default=54329, ge=1, le=65535)
