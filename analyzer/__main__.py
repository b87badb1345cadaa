"""`python -m analyzer`: read settings, configure logging, serve."""

import asyncio
import sys

from analyzer.server import serve
from analyzer.settings import AnalyzerSettings
from skin.logs import configure_logging


def main() -> int:
    settings = AnalyzerSettings()
    configure_logging("analyzer", settings.log_level)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
