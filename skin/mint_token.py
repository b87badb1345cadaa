"""Command line: mint a local-mode access token, `python -m skin.mint_token [--user UUID]`."""

from __future__ import annotations

import argparse
import sys
import uuid

from skin.identity import mint_token, signing_secret
from skin.settings import CommonSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", help="user id (UUID); a new one when omitted")
    parser.add_argument("--service-role", action="store_true", help="mint a service_role token")
    parser.add_argument("--ttl", type=int, default=24 * 3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    settings = CommonSettings()
    secret = signing_secret(settings)
    if secret is None:
        sys.stderr.write("no HS256 secret: set SUPABASE_JWT_SECRET or unset SUPABASE_JWKS_URL\n")
        return 2
    if args.service_role:
        sys.stdout.write(mint_token(secret, None, role="service_role", ttl_seconds=args.ttl) + "\n")
        return 0
    user = args.user or str(uuid.uuid4())
    sys.stdout.write(mint_token(secret, user, ttl_seconds=args.ttl) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
