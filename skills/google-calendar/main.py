#!/usr/bin/env python3
"""nanoclaw reference skill: list upcoming Google Calendar events.

Reads the access token the host keeps fresh in $NANOCLAW_TOKENS_DIR/google-calendar.json
(default /workspace/tokens, mounted read-only). When there is no usable token, or the API answers
401, it prints the AUTH_REQUIRED line on stdout and exits 0 so the host can prompt the user.

    main.py            list the next 10 events of the primary calendar
    main.py --check    describe the token it would use (never the token itself); no network

Standard library only. The token value is never printed, not even in error messages.
"""

import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

PROVIDER = "google-calendar"
SCOPES = ("calendar", "calendar.events")
AUTH_REQUIRED = "AUTH_REQUIRED:%s:%s" % (PROVIDER, ",".join(SCOPES))
DEFAULT_TOKENS_DIR = "/workspace/tokens"
DEFAULT_API_BASE = "https://www.googleapis.com/calendar/v3"
HTTP_TIMEOUT = 30  # seconds
# Visible ASCII only: anything else would break (or smuggle into) the Authorization header.
TOKEN_RE = re.compile(r"[\x21-\x7e]+")


def auth_required():
    sys.stdout.write(AUTH_REQUIRED + "\n")
    sys.stdout.flush()
    return 0


def parse_time(value):
    """ISO 8601 -> aware datetime (naive means UTC); None if unparseable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # fromisoformat before Python 3.11 accepts only 0, 3 or 6 fraction digits.
    text = re.sub(r"(\.\d{1,6})\d*", lambda m: m.group(1).ljust(7, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def load_token(tokens_dir):
    """The token record if it is usable now, else None."""
    path = os.path.join(tokens_dir, PROVIDER + ".json")
    try:
        with open(path, "r", encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    token = record.get("access_token")
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        return None
    expires_at = record.get("expires_at")
    if expires_at is not None:
        expiry = parse_time(expires_at)
        if expiry is None or expiry <= datetime.now(timezone.utc):
            return None
    return record


def describe(record):
    scopes = record.get("scopes")
    return {
        "provider": record.get("provider") or PROVIDER,
        "expires_at": record.get("expires_at"),
        "scopes": scopes if isinstance(scopes, list) else [],
        "token_type": record.get("token_type") or "Bearer",
        "token_present": True,
    }


def api_error_detail(body):
    """(message, reason) from a Google API error body, both possibly empty."""
    try:
        error = json.loads(body.decode("utf-8", "replace")).get("error") or {}
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return str(error)[:200], ""
    reasons = [d.get("reason", "") for d in error.get("errors") or [] if isinstance(d, dict)]
    reasons += [d.get("reason", "") for d in error.get("details") or [] if isinstance(d, dict)]
    return str(error.get("message", ""))[:200], ",".join(r for r in reasons if r)


def list_events(token):
    base = os.environ.get("GOOGLE_CALENDAR_API_BASE") or DEFAULT_API_BASE
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    query = urllib.parse.urlencode(
        {"maxResults": 10, "orderBy": "startTime", "singleEvents": "true", "timeMin": now}
    )
    url = "%s/calendars/primary/events?%s" % (base.rstrip("/"), query)
    request = urllib.request.Request(
        url, headers={"Authorization": "Bearer " + token, "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            payload = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        message, reason = api_error_detail(err.read())
        # An API (or a proxy in front of it) may echo the request, token included: never repeat it.
        message = message.replace(token, "[redacted]")
        if err.code == 401 or (
            err.code == 403 and ("insufficientPermissions" in reason or "SCOPE_INSUFFICIENT" in reason)
        ):
            return auth_required()
        sys.stderr.write(
            "google-calendar: Calendar API returned HTTP %d%s\n"
            % (err.code, ": " + message if message else "")
        )
        return 1
    except urllib.error.URLError as err:
        sys.stderr.write("google-calendar: cannot reach %s: %s\n" % (base, err.reason))
        return 1
    except (OSError, ValueError) as err:
        # Socket timeouts, resets, bad JSON. Print only the error class: never request details.
        sys.stderr.write("google-calendar: request to %s failed (%s)\n" % (base, type(err).__name__))
        return 1

    events = payload.get("items") if isinstance(payload, dict) else None
    if not events:
        print("No upcoming events.")
        return 0
    for event in events:
        start = event.get("start") or {}
        when = start.get("dateTime") or start.get("date") or "?"
        print("%s  %s" % (when, event.get("summary") or "(no title)"))
    return 0


def main(argv):
    args = argv[1:]
    unknown = [a for a in args if a != "--check"]
    if unknown:
        sys.stderr.write("usage: main.py [--check]\n")
        return 2
    record = load_token(os.environ.get("NANOCLAW_TOKENS_DIR") or DEFAULT_TOKENS_DIR)
    if record is None:
        return auth_required()
    if "--check" in args:
        print(json.dumps(describe(record), separators=(",", ":")))
        return 0
    return list_events(record["access_token"])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
