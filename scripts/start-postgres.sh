#!/usr/bin/env bash
# Starts a PostgreSQL server for the tests on 127.0.0.1 (Debian's postgresql package), idempotently,
# and prints where it is (without the password). The URL is also written to $NANOCLAW_PG_DIR/url, where
# the tests and the bench look for it (test/support/postgres.ts) when NANOCLAW_TEST_DATABASE_URL is not set.
#
#   NANOCLAW_PG_DIR         data and socket folder (default /var/lib/nanoclaw-postgres: /var/tmp is
#                           cleaned by systemd-tmpfiles)
#   NANOCLAW_PG_PORT        port (default 5432, or the next free one)
#   NANOCLAW_PG_LEGACY_DIR  where earlier versions of this script kept the server (default
#                           /var/tmp/nanoclaw-postgres when NANOCLAW_PG_DIR is not set, else none;
#                           empty: never look there). A server still
#                           running there is used as it is, its URL written to $NANOCLAW_PG_DIR/url,
#                           until it is gone (a reboot); then a server is started in $NANOCLAW_PG_DIR.
set -euo pipefail

PG_DIR="${NANOCLAW_PG_DIR:-/var/lib/nanoclaw-postgres}"
# A folder of one's own (NANOCLAW_PG_DIR) gets a server of its own: only the default looks at the earlier one.
if [[ -n "${NANOCLAW_PG_DIR:-}" ]]; then
  LEGACY_DIR="${NANOCLAW_PG_LEGACY_DIR:-}"
else
  LEGACY_DIR="${NANOCLAW_PG_LEGACY_DIR-/var/tmp/nanoclaw-postgres}"
fi
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
  echo "start-postgres: PostgreSQL is not installed (apt-get install -y postgresql)" >&2
  exit 1
fi

# The server refuses to run as root: it runs as the postgres user (created by the Debian package).
as_postgres() {
  if [[ "$(id -u)" == "0" ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Prints a log file to stderr (initdb or the server's), for a failure that would otherwise say nothing.
show_log() {
  echo "start-postgres: $1 failed; $2:" >&2
  if [[ -f "$2" ]]; then tail -n 50 "$2" >&2; fi
}

# Whether a server answers on the socket folder $1 and port $2, as the nanoclaw role.
answers() {
  "$PG_BIN/pg_isready" -q -h "$1" -p "$2" -t 5 &&
    [[ "$(as_postgres psql -X -h "$1" -p "$2" -U nanoclaw -d postgres -tAc \
      "SELECT 1 FROM pg_roles WHERE rolname = 'nanoclaw'" 2>/dev/null)" == "1" ]]
}

# The port of the server running on data folder $1 (and answering), or nothing.
port_of_running() {
  local data="$1" socket_dir="$2" port
  [[ -f "$data/postmaster.pid" ]] || return 0
  as_postgres "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 0
  port="$(sed -n 4p "$data/postmaster.pid")"
  if [[ -n "$port" ]] && answers "$socket_dir" "$port"; then echo "$port"; fi
}

write_url() {
  (
    umask 077
    printf '%s\n' "$1" >"$PG_DIR/url.tmp"
    mv "$PG_DIR/url.tmp" "$PG_DIR/url"
  )
  # The URL holds the password: it is in the file, and printed here without it.
  echo "PostgreSQL at ${1/:$2@/:***@} (full URL in $PG_DIR/url)"
}

mkdir -p "$PG_DIR"
if [[ "$(id -u)" == "0" ]]; then chown postgres:postgres "$PG_DIR"; fi
DATA="$PG_DIR/data"
PASSWORD_FILE="$PG_DIR/password"

# An earlier version's server, still running: keep using it (other runs may be using it right now).
if [[ -n "$LEGACY_DIR" && "$LEGACY_DIR" != "$PG_DIR" && ! -f "$DATA/PG_VERSION" && -f "$LEGACY_DIR/url" ]]; then
  LEGACY_PORT="$(port_of_running "$LEGACY_DIR/data" "$LEGACY_DIR")"
  if [[ -n "$LEGACY_PORT" ]]; then
    write_url "$(cat "$LEGACY_DIR/url")" "$(cat "$LEGACY_DIR/password")"
    exit 0
  fi
fi

if [[ ! -f "$DATA/PG_VERSION" ]]; then
  if [[ ! -f "$PASSWORD_FILE" ]]; then
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$PASSWORD_FILE")
  fi
  if [[ "$(id -u)" == "0" ]]; then chown postgres:postgres "$PASSWORD_FILE"; fi
  chmod 600 "$PASSWORD_FILE"
  rm -rf "$DATA"
  if ! as_postgres "$PG_BIN/initdb" -D "$DATA" -U nanoclaw --pwfile="$PASSWORD_FILE" \
    --auth-host=scram-sha-256 --auth-local=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$PG_DIR/initdb.log" 2>&1; then
    show_log initdb "$PG_DIR/initdb.log"
    exit 1
  fi
fi

PORT="$(port_of_running "$DATA" "$PG_DIR")"
if [[ -z "$PORT" ]]; then
  # A postmaster.pid left by a server that is gone (a reboot; its PID may now be another program's)
  # would stop the server from starting: it goes when no postgres process holds it.
  if [[ -f "$DATA/postmaster.pid" ]]; then
    OLD_PID="$(sed -n 1p "$DATA/postmaster.pid")"
    if [[ "$(cat "/proc/$OLD_PID/comm" 2>/dev/null || true)" != "postgres" ]]; then
      rm -f "$DATA/postmaster.pid"
    else
      echo "start-postgres: a postgres process ($OLD_PID) holds $DATA but does not answer" >&2
      show_log "the server" "$PG_DIR/server.log"
      exit 1
    fi
  fi
  PORT="${NANOCLAW_PG_PORT:-5432}"
  while (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$PG_DIR -c max_connections=300 -c fsync=on" \
    >/dev/null; then
    show_log "pg_ctl start" "$PG_DIR/server.log"
    exit 1
  fi
  if ! answers "$PG_DIR" "$PORT"; then
    echo "start-postgres: the server started on port $PORT but does not answer as the nanoclaw role" >&2
    show_log "the server" "$PG_DIR/server.log"
    exit 1
  fi
fi

PASSWORD="$(cat "$PASSWORD_FILE")"
write_url "postgres://nanoclaw:$PASSWORD@127.0.0.1:$PORT/postgres" "$PASSWORD"
