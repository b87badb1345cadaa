"""`python -m storage`: read settings, configure logging, serve."""

import asyncio
import sys

from skin.logs import configure_logging
from storage.embedded_postgres import PostgresNotAvailable
from storage.server import serve
from storage.settings import StorageSettings


def main() -> int:
    settings = StorageSettings()
    configure_logging("storage", settings.log_level)
    try:
        asyncio.run(serve(settings))
    except PostgresNotAvailable as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
