"""Mint a token for one profiled request: ``python -m c13_middleware.profile_token --secret-env VAR --method GET
--path /x --ttl 300 --type cpu``. Prints the token; send it as ``X-C13-Profile-Token`` with ``X-C13-Profile: <type>``.
A token is for one profile type and one request (each worker process accepts it once), valid for at most an hour.
The secret is read from the named environment variable, never from the command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .profiling._triggers import MAX_TOKEN_TTL_S, PROFILE_HEADER, TOKEN_HEADER, mint_token

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m c13_middleware.profile_token", description=__doc__.split(":")[0])
    parser.add_argument("--secret-env", required=True, help="environment variable holding the profiling secret")
    parser.add_argument("--method", required=True, help="HTTP method of the request to profile, e.g. GET")
    parser.add_argument("--path", required=True, help="request path without the query string, e.g. /orders/42")
    parser.add_argument(
        "--ttl",
        type=float,
        default=300.0,
        help=f"seconds the token stays valid (default 300, at most {MAX_TOKEN_TTL_S})",
    )
    parser.add_argument(
        "--type", default="cpu", choices=["cpu", "memory", "exact"], help="the profile type the token is for"
    )
    parser.add_argument("--curl", action="store_true", help="print curl header arguments instead of the bare token")
    args = parser.parse_args(argv)
    secret = os.environ.get(args.secret_env)
    if not secret:
        print(f"error: environment variable {args.secret_env} is not set or empty", file=sys.stderr)
        return 2
    if not 0 < args.ttl <= MAX_TOKEN_TTL_S:
        print(f"error: --ttl must be > 0 and <= {MAX_TOKEN_TTL_S}", file=sys.stderr)
        return 2
    token = mint_token(secret, args.method, args.path, args.ttl, profile_type=args.type)
    if args.curl:
        print(f"-H '{PROFILE_HEADER}: {args.type}' -H '{TOKEN_HEADER}: {token}'")
    else:
        print(token)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
