"""Token verification: what is accepted and everything that is refused, HS256 and JWKS."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from skin.identity import InvalidTokenError, TokenVerifier, bearer_token, mint_token

SECRET = "test-secret-that-is-long-enough-for-every-hmac-algorithm-0123456789"
USER = str(uuid.uuid4())


def claims(**overrides):
    now = int(time.time())
    base = {
        "sub": USER,
        "aud": "authenticated",
        "role": "authenticated",
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def unsigned(payload) -> str:
    def part(value) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


REFUSED = {
    "malformed": "not.a.token",
    "expired": jwt.encode(claims(exp=int(time.time()) - 120), SECRET, algorithm="HS256"),
    "wrong signature": jwt.encode(
        claims(), "another-secret-another-secret-another", algorithm="HS256"
    ),
    "alg none": unsigned(claims()),
    "wrong audience": jwt.encode(claims(aud="someone-else"), SECRET, algorithm="HS256"),
    "anon key": jwt.encode(claims(role="anon", sub=None, aud=None), SECRET, algorithm="HS256"),
    "sub not a uuid": jwt.encode(claims(sub="user-42"), SECRET, algorithm="HS256"),
    "no sub": jwt.encode(claims(sub=None), SECRET, algorithm="HS256"),
    "no exp": jwt.encode(claims(exp=None), SECRET, algorithm="HS256"),
    "unknown algorithm": jwt.encode(claims(), SECRET, algorithm="HS384"),
    "asymmetric without jwks": jwt.encode(
        claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "k"}
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_tokens(name):
    with pytest.raises(InvalidTokenError):
        TokenVerifier(SECRET).verify(REFUSED[name])


def test_user_token_is_accepted():
    caller = TokenVerifier(SECRET).verify(mint_token(SECRET, USER))
    assert (caller.role, caller.user_id, caller.is_service) == ("authenticated", USER, False)


def test_expiry_within_leeway_is_accepted_and_leeway_is_capped_at_30s():
    token = jwt.encode(claims(exp=int(time.time()) - 10), SECRET, algorithm="HS256")
    assert TokenVerifier(SECRET, leeway_seconds=30).verify(token).user_id == USER
    late = jwt.encode(claims(exp=int(time.time()) - 45), SECRET, algorithm="HS256")
    with pytest.raises(InvalidTokenError):
        TokenVerifier(SECRET, leeway_seconds=3600).verify(late)


def test_service_role_token_names_no_user():
    caller = TokenVerifier(SECRET).verify(mint_token(SECRET, None, role="service_role"))
    assert caller.is_service and caller.user_id is None


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   "])
def test_bad_authorization_headers(header):
    with pytest.raises(InvalidTokenError):
        bearer_token(header)


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[tuple[str, dict]]:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = [
        {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec-1", "alg": "ES256"},
        {**RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "rsa-1", "alg": "RS256"},
    ]
    for key in keys:
        key["use"] = "sig"
    body = json.dumps({"keys": keys}).encode()

    fetches = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            fetches.append(time.time())
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    private = {"ec-1": ec_key, "rsa-1": rsa_key, "fetches": fetches}
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", private
    server.shutdown()


def test_jwks_tokens_are_verified_by_kid(jwks_server):
    url, private = jwks_server
    verifier = TokenVerifier(None, url)
    es = jwt.encode(claims(), private["ec-1"], algorithm="ES256", headers={"kid": "ec-1"})
    rs = jwt.encode(claims(), private["rsa-1"], algorithm="RS256", headers={"kid": "rsa-1"})
    assert verifier.needs_network(es)
    assert verifier.verify(es).user_id == USER
    assert verifier.verify(rs).user_id == USER


def test_jwks_refuses_unknown_kid_foreign_key_and_hs256(jwks_server):
    url, private = jwks_server
    verifier = TokenVerifier(None, url)
    foreign = ec.generate_private_key(ec.SECP256R1())
    refused = [
        jwt.encode(claims(), private["ec-1"], algorithm="ES256", headers={"kid": "missing"}),
        jwt.encode(claims(), foreign, algorithm="ES256", headers={"kid": "ec-1"}),
        jwt.encode(claims(), SECRET, algorithm="HS256"),
    ]
    for token in refused:
        with pytest.raises(InvalidTokenError):
            verifier.verify(token)


def test_cached_token_still_expires():
    verifier = TokenVerifier(SECRET, leeway_seconds=0)
    token = jwt.encode(claims(exp=int(time.time()) + 1), SECRET, algorithm="HS256")
    assert verifier.verify(token).user_id == USER
    assert verifier.verify(token).user_id == USER  # from the cache
    time.sleep(1.1)
    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_refused_token_is_never_cached_as_accepted():
    verifier = TokenVerifier(SECRET)
    for _ in range(2):
        with pytest.raises(InvalidTokenError):
            verifier.verify(REFUSED["wrong signature"])


def test_made_up_kids_do_not_refetch_the_jwks_each_time(jwks_server):
    # Found: every unknown `kid` fetched the JWKS again, so a flood of made-up kids made the
    # gateway hammer the auth server. An unknown kid refetches at most once per cooldown.
    url, private = jwks_server
    verifier = TokenVerifier(None, url)
    known = jwt.encode(claims(), private["ec-1"], algorithm="ES256", headers={"kid": "ec-1"})
    assert verifier.verify(known).user_id == USER
    before = len(private["fetches"])
    for index in range(25):
        forged = jwt.encode(
            claims(), private["ec-1"], algorithm="ES256", headers={"kid": f"made-up-{index}"}
        )
        with pytest.raises(InvalidTokenError, match="signing key is unknown"):
            verifier.verify(forged)
    assert len(private["fetches"]) - before <= 1


def test_the_token_cache_is_safe_across_threads_at_expiry(monkeypatch):
    # Found: two threads finding the same cached token expired could both delete it, and one
    # raised KeyError (a 500) instead of "token has expired". A clock that yields the thread
    # on every reading makes threads interleave inside the cache's check-then-act.
    real_time = time.time

    def yielding_time() -> float:
        time.sleep(0.0002)
        return real_time()

    monkeypatch.setattr(time, "time", yielding_time)
    verifier = TokenVerifier(SECRET, leeway_seconds=0)
    expiry = int(real_time()) + 1
    tokens = [
        jwt.encode(claims(exp=expiry, jti=str(n)), SECRET, algorithm="HS256") for n in range(5)
    ]
    unexpected: list[BaseException] = []
    stop = expiry + 1.0

    def hammer() -> None:
        while real_time() < stop:
            for token in tokens:
                try:
                    verifier.verify(token)
                except InvalidTokenError:
                    pass
                except Exception as exc:  # noqa: BLE001 - what the test looks for
                    unexpected.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unexpected == []
