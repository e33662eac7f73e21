#!/usr/bin/env bash
# Starts a PostgreSQL server for the tests on 127.0.0.1 (Debian's postgresql package), idempotently,
# and prints where it is (without the password). The URL is also written to $NANOCLAW_PG_DIR/url, where the tests look for it
# (test/support/postgres.ts) when NANOCLAW_TEST_DATABASE_URL is not set.
#
#   NANOCLAW_PG_DIR   data and socket folder (default /var/tmp/nanoclaw-postgres)
#   NANOCLAW_PG_PORT  port (default 5432, or the next free one)
set -euo pipefail

PG_DIR="${NANOCLAW_PG_DIR:-/var/tmp/nanoclaw-postgres}"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
  echo "start-postgres: PostgreSQL is not installed (apt-get install -y postgresql)" >&2
  exit 1
fi

# The server refuses to run as root: it runs as the postgres user (created by the Debian package).
as_postgres() {
  if [[ "$(id -u)" == "0" ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$PG_DIR"
if [[ "$(id -u)" == "0" ]]; then chown postgres:postgres "$PG_DIR"; fi
DATA="$PG_DIR/data"
PASSWORD_FILE="$PG_DIR/password"

if [[ ! -f "$DATA/PG_VERSION" ]]; then
  if [[ ! -f "$PASSWORD_FILE" ]]; then
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$PASSWORD_FILE"
  fi
  if [[ "$(id -u)" == "0" ]]; then chown postgres:postgres "$PASSWORD_FILE"; fi
  chmod 600 "$PASSWORD_FILE"
  as_postgres "$PG_BIN/initdb" -D "$DATA" -U nanoclaw --pwfile="$PASSWORD_FILE" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1
fi

port_of_running() {
  if as_postgres "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1 && [[ -f "$DATA/postmaster.pid" ]]; then
    sed -n 4p "$DATA/postmaster.pid"
  fi
}

PORT="$(port_of_running)"
if [[ -z "$PORT" ]]; then
  PORT="${NANOCLAW_PG_PORT:-5432}"
  while (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
  as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$PG_DIR -c max_connections=300 -c fsync=on" \
    >/dev/null
fi

URL="postgres://nanoclaw:$(cat "$PASSWORD_FILE")@127.0.0.1:$PORT/postgres"
umask 077
printf '%s\n' "$URL" > "$PG_DIR/url"
chmod 600 "$PG_DIR/url"
# The URL holds the password: it is in the file, and printed here without it.
echo "PostgreSQL at postgres://nanoclaw:***@127.0.0.1:$PORT/postgres (full URL in $PG_DIR/url)"
