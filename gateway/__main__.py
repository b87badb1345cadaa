"""`python -m gateway`: read settings, configure logging, serve on uvicorn (uvloop, httptools)."""

import logging
import sys

import uvicorn

from gateway.app import build_app
from gateway.http_server import http_protocol
from gateway.settings import GatewaySettings
from skin.logs import configure_logging


def main() -> int:
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level)
    if settings.exposed_local_mode:
        logging.getLogger("gateway").warning(
            "local mode (no SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL) listening on %s: anyone"
            " who can reach this port can mint a token at POST /local/token",
            settings.bind_host,
        )
    uvicorn.run(
        build_app(settings),
        host=settings.bind_host,
        port=settings.gateway_port,
        loop="uvloop",
        http=http_protocol(settings.header_timeout_seconds),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
