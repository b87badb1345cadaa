"""The demo page at `/` (plain HTML, JS and CSS from gateway/static, no CDN) and, in local
mode only, the sign-in it uses: a token for a new user, signed with the checkout's dev
secret."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from gateway.errors import ApiError
from skin.identity import mint_token, signing_secret

STATIC = Path(__file__).resolve().parent.parent / "static"
# The page loads nothing from elsewhere and runs no inline script.
PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' blob: data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
LOCAL_TOKEN_SECONDS = 12 * 3600

router = APIRouter()


class LocalToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds.")
    user_id: str = Field(json_schema_extra={"format": "uuid"})


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)


@router.post(
    "/local/token",
    response_model=LocalToken,
    tags=["local mode"],
    responses={404: {"description": "Not in local mode: sign in with Supabase."}},
)
async def local_token(request: Request) -> LocalToken:
    """Local mode only (no Supabase secret or JWKS configured): a token for a new user, as
    `python -m skin.mint_token` makes. Never another user's: each call is a new account."""
    settings = request.app.state.settings
    secret = signing_secret(settings) if settings.local_auth else None
    if secret is None:
        raise ApiError(404, "NOT_LOCAL_MODE", "local sign-in is off; sign in with Supabase")
    user_id = str(uuid.uuid4())
    return LocalToken(
        access_token=mint_token(secret, user_id, ttl_seconds=LOCAL_TOKEN_SECONDS),
        expires_in=LOCAL_TOKEN_SECONDS,
        user_id=user_id,
    )


def install_page(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
