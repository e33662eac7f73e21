#!/usr/bin/env python3
"""nanoclaw demo skill: proves it received fresh tokens without ever printing them.

Reads $NANOCLAW_TOKENS_DIR (default /workspace/tokens, mounted read-only):
  demo.json          the user's token (authorization code + PKCE); missing -> AUTH_REQUIRED
  demo-service.json  the service's token (client credentials); fetched by the host, no user needed

Standard library only, no network.
"""

import json
import os
import sys
from datetime import datetime, timezone

TOKENS_DIR = os.environ.get("NANOCLAW_TOKENS_DIR", "/workspace/tokens")
AUTH_REQUIRED = "AUTH_REQUIRED:demo:openid,demo:read"


def load(provider):
    """The token record when it is present and unexpired, else None."""
    try:
        with open(os.path.join(TOKENS_DIR, provider + ".json"), encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("access_token"), str):
        return None
    expires_at = record.get("expires_at")
    if expires_at is None:
        return record
    try:
        expiry = datetime.fromisoformat(str(expires_at).replace("Z", "+00:00"))
    except ValueError:
        return None
    return record if expiry > datetime.now(timezone.utc) else None


def describe(record):
    expires_at = record.get("expires_at")
    if expires_at is None:
        remaining = "does not expire"
    else:
        expiry = datetime.fromisoformat(str(expires_at).replace("Z", "+00:00"))
        minutes = int((expiry - datetime.now(timezone.utc)).total_seconds() // 60)
        remaining = "expires in %d min" % minutes
    scopes = " ".join(record.get("scopes") or []) or "(none)"
    return "%s token, scopes %s, %s" % (record.get("token_type", "Bearer"), scopes, remaining)


def main():
    user = load("demo")
    if user is None:
        sys.stdout.write(AUTH_REQUIRED + "\n")
        sys.stdout.flush()
        return 0
    print("demo skill: the user's token is here: " + describe(user))
    service = load("demo-service")
    if service is not None:
        print("demo skill: the service token is here: " + describe(service))
    else:
        print("demo skill: no service token (client credentials) yet")
    print("demo skill: done, without ever printing a token.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
