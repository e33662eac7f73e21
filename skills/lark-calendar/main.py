#!/usr/bin/env python3
"""nanoclaw reference skill: the owner's own primary Lark (Feishu) calendar.

Reads the user access token the host keeps fresh in $NANOCLAW_TOKENS_DIR/lark-calendar.json
(default /workspace/tokens, mounted read-only). When there is no usable token, or Lark answers that
the token is invalid or lacks the calendar scope, it prints the AUTH_REQUIRED line on stdout and
exits 0 so the host can prompt the user.

    main.py                                   list the events of the next 7 days
    main.py book <start> <minutes> <title>    book an event (start: ISO 8601, e.g. 2030-01-02T09:00:00Z)
    main.py --check                           describe the token it would use; no network

LARK_API_BASE picks the open platform (default https://open.larksuite.com; Feishu:
https://open.feishu.cn). Standard library only. The token is never printed, not even in errors.
"""

import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

PROVIDER = "lark-calendar"
SCOPES = ("calendar:calendar", "offline_access")
AUTH_REQUIRED = "AUTH_REQUIRED:%s:%s" % (PROVIDER, ",".join(SCOPES))
DEFAULT_TOKENS_DIR = "/workspace/tokens"
DEFAULT_API_BASE = "https://open.larksuite.com"
HTTP_TIMEOUT = 30  # seconds
TOKEN_RE = re.compile(r"[\x21-\x7e]+")
# Lark's answers for a user token that is missing, invalid, expired or lacks the user's consent.
TOKEN_PROBLEM_CODES = {99991661, 99991663, 99991668, 99991677, 99991679, 20005}


class AuthRequired(Exception):
    pass


class ApiFailed(Exception):
    pass


def parse_time(value):
    """ISO 8601 -> aware datetime (naive means UTC); None if unparseable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = re.sub(r"(\.\d{1,6})\d*", lambda m: m.group(1).ljust(7, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def load_token(tokens_dir):
    """The token record if it is usable now, else None."""
    try:
        with open(os.path.join(tokens_dir, PROVIDER + ".json"), "r", encoding="utf-8") as handle:
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


def call(token, method, path, query=None, body=None):
    """One Lark open API call; the `data` of a `{code: 0}` answer."""
    base = (os.environ.get("LARK_API_BASE") or DEFAULT_API_BASE).rstrip("/")
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    data = None if body is None else json.dumps(body).encode("utf-8")
    headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
    if data is not None or method == "POST":
        headers["Content-Type"] = "application/json; charset=utf-8"
        data = data or b"{}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except urllib.error.URLError as err:
        raise ApiFailed("cannot reach %s: %s" % (base, err.reason))
    except (OSError, ValueError) as err:
        raise ApiFailed("request to %s failed (%s)" % (base, type(err).__name__))
    try:
        payload = json.loads(raw.decode("utf-8"))
    except ValueError:
        payload = None
    code = payload.get("code") if isinstance(payload, dict) else None
    if status == 401 or code in TOKEN_PROBLEM_CODES:
        raise AuthRequired()
    if code != 0:
        message = str(payload.get("msg", "")) if isinstance(payload, dict) else ""
        raise ApiFailed("Lark answered HTTP %d, code %s%s" % (status, code, ": " + message.replace(token, "[redacted]")[:200] if message else ""))
    return payload.get("data") or {}


def primary_calendar_id(token):
    calendars = call(token, "POST", "/open-apis/calendar/v4/calendars/primary").get("calendars") or []
    for entry in calendars:
        calendar = entry.get("calendar") if isinstance(entry, dict) else None
        if isinstance(calendar, dict) and calendar.get("calendar_id"):
            return calendar["calendar_id"]
    raise ApiFailed("Lark returned no primary calendar")


def when(time_info):
    stamp = (time_info or {}).get("timestamp")
    if stamp and str(stamp).isdigit():
        return datetime.fromtimestamp(int(stamp), timezone.utc).isoformat().replace("+00:00", "Z")
    return (time_info or {}).get("date") or "?"


def list_events(token):
    calendar_id = primary_calendar_id(token)
    now = datetime.now(timezone.utc)
    query = {
        "start_time": str(int(now.timestamp())),
        "end_time": str(int((now + timedelta(days=7)).timestamp())),
        "page_size": "50",
    }
    path = "/open-apis/calendar/v4/calendars/%s/events" % urllib.parse.quote(calendar_id, safe="")
    items = call(token, "GET", path, query=query).get("items") or []
    if not items:
        print("No events in the next 7 days.")
        return 0
    for event in items:
        print("%s  %s" % (when(event.get("start_time")), event.get("summary") or "(no title)"))
    return 0


def book(token, start_text, minutes_text, title):
    start = parse_time(start_text)
    if start is None or not minutes_text.isdigit() or int(minutes_text) <= 0:
        sys.stderr.write("usage: main.py book <start ISO 8601> <minutes> <title>\n")
        return 2
    end = start + timedelta(minutes=int(minutes_text))
    calendar_id = primary_calendar_id(token)
    path = "/open-apis/calendar/v4/calendars/%s/events" % urllib.parse.quote(calendar_id, safe="")
    body = {
        "summary": title,
        "start_time": {"timestamp": str(int(start.timestamp()))},
        "end_time": {"timestamp": str(int(end.timestamp()))},
    }
    event = call(token, "POST", path, body=body).get("event") or {}
    print("Booked %s  %s (%s)" % (when(event.get("start_time")), event.get("summary") or title, event.get("event_id", "?")))
    return 0


def main(argv):
    args = argv[1:]
    record = load_token(os.environ.get("NANOCLAW_TOKENS_DIR") or DEFAULT_TOKENS_DIR)
    if args == ["--check"]:
        if record is None:
            print(AUTH_REQUIRED)
            return 0
        print(json.dumps({"provider": PROVIDER, "expires_at": record.get("expires_at"), "scopes": record.get("scopes") or [], "token_present": True}, separators=(",", ":")))
        return 0
    if args and not (args[0] == "book" and len(args) >= 4):
        sys.stderr.write("usage: main.py [--check | book <start> <minutes> <title>]\n")
        return 2
    if record is None:
        print(AUTH_REQUIRED, flush=True)
        return 0
    token = record["access_token"]
    try:
        if args:
            return book(token, args[1], args[2], " ".join(args[3:]))
        return list_events(token)
    except AuthRequired:
        print(AUTH_REQUIRED, flush=True)
        return 0
    except ApiFailed as err:
        sys.stderr.write("lark-calendar: %s\n" % str(err).replace(token, "[redacted]"))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
