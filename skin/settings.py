"""Settings every service shares (identity and the data directory), read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The checkout this package runs from (an editable install, as `make` creates).
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class CommonSettings(BaseSettings):
    """Environment names as the README lists them; each service extends this class."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    supabase_jwt_secret: str | None = Field(default=None, description="HS256 signing secret.")
    supabase_jwks_url: str | None = Field(default=None, description="JWKS for ES256/RS256 tokens.")
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=30)
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".data",
        description="Local state: dev secret, cluster. The checkout's .data wherever a command "
        "runs from, so every service and tool finds the same dev secret.",
    )
    log_level: str = "INFO"

    @property
    def local_auth(self) -> bool:
        """True when no real auth is configured: a dev secret under data_dir signs tokens."""
        return not self.supabase_jwt_secret and not self.supabase_jwks_url
