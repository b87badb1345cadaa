"""Request dependencies: the verified caller, the backends and the runner, as Annotated aliases."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from gateway.clients import Backends
from gateway.errors import ApiError
from gateway.runner import TaskRunner
from skin.identity import Caller, InvalidTokenError, TokenVerifier, bearer_token
from skin.request_ids import request_id_from


@dataclass(frozen=True)
class User:
    """A signed-in user: their id, and the metadata that forwards their token to storage."""

    caller: Caller
    token: str
    request_id: str

    @property
    def id(self) -> str:
        assert self.caller.user_id is not None
        return self.caller.user_id

    def metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.token}"), ("x-request-id", self.request_id)]


# The dependencies are coroutines: FastAPI runs a plain `def` dependency in a worker thread,
# three thread hops per request that cost more CPU than the rest of a GET.
async def current_user(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> User:
    verifier: TokenVerifier = request.app.state.verifier
    try:
        token = bearer_token(authorization)
        if verifier.needs_network(token):  # may fetch the JWKS: off the event loop
            caller = await asyncio.to_thread(verifier.verify, token)
        else:
            caller = verifier.verify(token)
    except InvalidTokenError as exc:
        raise ApiError(401, "INVALID_TOKEN", str(exc)) from exc
    if caller.is_service:
        raise ApiError(401, "INVALID_TOKEN", "a user's access token is required here")
    request_id = getattr(request.state, "request_id", None) or request_id_from(None)
    return User(caller=caller, token=token, request_id=request_id)


async def backends(request: Request) -> Backends:
    return request.app.state.backends


async def runner(request: Request) -> TaskRunner:
    return request.app.state.runner


CurrentUser = Annotated[User, Depends(current_user)]
BackendsDep = Annotated[Backends, Depends(backends)]
RunnerDep = Annotated[TaskRunner, Depends(runner)]
