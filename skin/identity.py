"""Verifies Supabase access tokens, the one implementation every service uses.

Accepted: HS256 signed with the project's JWT secret, and ES256/RS256 signed by a key from the
project's JWKS (chosen by `kid`). A user token needs `exp`, `sub` (a UUID), `aud=authenticated`
and `role=authenticated`; a `service_role` token needs `exp` and may act for a named user.
Everything else (alg=none, unknown algorithms, the anon key, bad signatures) is refused.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jwt
from cachetools import TLRUCache

from skin.settings import CommonSettings

AUDIENCE = "authenticated"
_ASYMMETRIC_ALGORITHMS = ("ES256", "RS256")
DEV_SECRET_FILE = "dev-jwt-secret"
_ACCEPTED_CACHE_SIZE = 10_000
# An unknown `kid` may refetch the JWKS at most once per this many seconds (a rotated key is
# picked up within it); a flood of made-up kids costs no more fetches than that.
JWKS_REFETCH_SECONDS = 60.0

Role = Literal["authenticated", "service_role"]


class InvalidTokenError(Exception):
    """The token is missing or not acceptable; the message says why, without secrets."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: a signed-in user, or an internal service holding the service_role key."""

    role: Role
    user_id: str | None
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_service(self) -> bool:
        return self.role == "service_role"


def parse_uuid(value: str) -> str | None:
    """The canonical form of a UUID string, or None when it is not one."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        return None


class TokenVerifier:
    """Checks signature, algorithm, expiry, audience and role of Supabase access tokens."""

    def __init__(
        self,
        hs256_secret: str | None,
        jwks_url: str | None = None,
        leeway_seconds: int = 30,
    ) -> None:
        if not hs256_secret and not jwks_url:
            raise ValueError("a JWT secret or a JWKS URL is required")
        self._secret = hs256_secret
        self._jwks = (
            jwt.PyJWKClient(
                jwks_url,
                cache_keys=True,
                lifespan=600,
                timeout=5,
                cooldown_duration=JWKS_REFETCH_SECONDS,
            )
            if jwks_url
            else None
        )
        self._leeway = min(leeway_seconds, 30)
        # Verified tokens, so a client reusing its token (the usual case) costs a lookup. Only
        # accepted tokens are kept, each until its own expiry, least recently used out first;
        # the lock makes it safe from the gateway's worker threads.
        self._accepted: TLRUCache[str, Caller] = TLRUCache(
            maxsize=_ACCEPTED_CACHE_SIZE, ttu=self._expiry, timer=time.time
        )
        self._lock = threading.Lock()

    def _expiry(self, _token: str, caller: Caller, _now: float) -> float:
        return float(caller.claims["exp"]) + self._leeway

    def needs_network(self, token: str) -> bool:
        """True when checking this token may fetch the JWKS (so callers run it off the loop)."""
        with self._lock:
            if self._accepted.get(token) is not None:
                return False
        try:
            return jwt.get_unverified_header(token).get("alg") in _ASYMMETRIC_ALGORITHMS
        except jwt.PyJWTError:
            return False

    def verify(self, token: str) -> Caller:
        with self._lock:
            cached = self._accepted.get(token)  # None once past its expiry
        if cached is not None:
            return cached
        caller = self._verify_uncached(token)
        with self._lock:
            self._accepted[token] = caller
        return caller

    def _verify_uncached(self, token: str) -> Caller:
        claims = self._decode(token)
        role = claims.get("role")
        if role == "service_role":
            return Caller(role="service_role", user_id=None, claims=claims)
        if role != "authenticated":
            raise InvalidTokenError(f"token role {role!r} is not accepted; sign in first")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if AUDIENCE not in audiences:
            raise InvalidTokenError("token audience must be 'authenticated'")
        user_id = parse_uuid(claims.get("sub", "")) if isinstance(claims.get("sub"), str) else None
        if user_id is None:
            raise InvalidTokenError("token subject must be a user id (UUID)")
        return Caller(role="authenticated", user_id=user_id, claims=claims)

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidTokenError("malformed token") from exc
        algorithm = header.get("alg")
        key: Any
        if algorithm == "HS256" and self._secret:
            key = self._secret
        elif algorithm in _ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            try:
                key = self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientError as exc:
                raise InvalidTokenError("token signing key is unknown") from exc
        else:
            raise InvalidTokenError(f"token algorithm {algorithm!r} is not accepted")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                leeway=self._leeway,
                options={"require": ["exp"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidTokenError("token has expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidTokenError("token signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"invalid token: {exc}") from exc
        return claims


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` value."""
    if not authorization:
        raise InvalidTokenError("missing bearer token in 'authorization'")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidTokenError("'authorization' must be 'Bearer <token>'")
    return token.strip()


def dev_secret(data_dir: Path) -> str:
    """The local-mode signing secret, created once under data_dir and kept private."""
    path = data_dir / DEV_SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def signing_secret(settings: CommonSettings) -> str | None:
    """The HS256 secret in force: the configured one, or in local mode the dev secret."""
    if settings.supabase_jwt_secret:
        return settings.supabase_jwt_secret
    if settings.local_auth:
        return dev_secret(settings.data_dir)
    return None


def build_verifier(settings: CommonSettings) -> TokenVerifier:
    return TokenVerifier(
        signing_secret(settings), settings.supabase_jwks_url, settings.jwt_leeway_seconds
    )


def mint_token(
    secret: str,
    user_id: str | None,
    *,
    role: Role = "authenticated",
    ttl_seconds: int = 3600,
    extra: dict[str, Any] | None = None,
) -> str:
    """An HS256 token shaped like Supabase's: for local mode, tests and tools."""
    now = int(time.time())
    claims: dict[str, Any] = {"iat": now, "exp": now + ttl_seconds, "role": role, "iss": "local"}
    if role == "authenticated":
        claims.update(sub=user_id, aud=AUDIENCE)
    claims.update(extra or {})
    return jwt.encode(claims, secret, algorithm="HS256")
