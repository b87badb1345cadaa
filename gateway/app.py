"""Builds the FastAPI app: routes, error handlers, metrics, request ids, and the lifespan that
opens the gRPC channels and runs the task runner."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway.clients import ServiceToken, open_backends
from gateway.docs_pages import install_docs_pages
from gateway.errors import install_error_handlers
from gateway.event_streams import StreamLimiter
from gateway.openapi import install_openapi
from gateway.request_context import RequestContext
from gateway.routes import ops, progress, tasks
from gateway.routes.page import install_page
from gateway.runner import TaskRunner
from gateway.settings import GatewaySettings
from gateway.webhooks import WebhookSender
from skin.identity import build_verifier

logger = logging.getLogger(__name__)


def build_app(settings: GatewaySettings) -> FastAPI:
    if bool(settings.webhook_url) != bool(settings.webhook_secret):
        raise ValueError("WEBHOOK_URL and WEBHOOK_SECRET go together")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backends = open_backends(settings)
        token = ServiceToken(settings)
        webhooks = None
        if settings.webhook_url and settings.webhook_secret:
            webhooks = WebhookSender(
                settings.webhook_url,
                settings.webhook_secret,
                backends.storage,
                lambda: token.metadata(uuid.uuid4().hex),
                settings.webhook_attempts,
                settings.webhook_first_retry_seconds,
            )
            await webhooks.start()
        app.state.backends = backends
        on_finished = webhooks.enqueue if webhooks else None
        app.state.runner = TaskRunner(backends, token, settings, on_finished)
        try:
            yield
        finally:
            await app.state.runner.stop(settings.shutdown_grace_seconds)
            if webhooks is not None:
                await webhooks.stop()
            await backends.close()

    app = FastAPI(
        title="Skin analysis API",
        version="1.0",
        description="Submit a selfie, follow its analysis, send the intake form, read the routine. "
        "Cosmetic measurements, not a medical diagnosis.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Operation ids are the handlers' names (submit_task, get_task, ...): what a generated
        # client calls its methods.
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.settings = settings
    app.state.streams = StreamLimiter(settings.max_event_streams_per_user)
    app.state.verifier = build_verifier(settings)
    install_error_handlers(app)
    install_docs_pages(app)
    install_openapi(app)
    app.include_router(tasks.router)
    app.include_router(progress.router)
    app.include_router(ops.router)
    install_page(app)

    app.add_middleware(RequestContext)

    return app
