"""Schema migrations of the storage service: SQL files applied in order, once, recorded."""

from storage.migrations.runner import LoginRole, migrate

__all__ = ["LoginRole", "migrate"]
