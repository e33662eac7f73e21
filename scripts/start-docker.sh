#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`; start one in the background if not.
#
# The engine is started without a bridge or iptables rules (nanoclaw's tests run every container with
# NetworkMode "none", and this works inside containers/VMs where iptables is unavailable):
#   dockerd --bridge=none --iptables=false --ip-masq=false $DOCKERD_EXTRA_ARGS
#
# Environment:
#   DOCKERD_WAIT         seconds to wait for the engine (default 60)
#   DOCKERD_LOG          log file (default: a new temp file, printed)
#   DOCKERD_EXTRA_ARGS   extra dockerd flags (word-split)
#   DOCKER               docker client (default docker)
#
# Idempotent: exits 0 at once when `docker info` already works.
set -euo pipefail

DOCKER="${DOCKER:-docker}"
WAIT="${DOCKERD_WAIT:-60}"
PIDFILE=/var/run/docker.pid

log() { printf '[start-docker] %s\n' "$*" >&2; }
die() { printf '[start-docker] ERROR: %s\n' "$*" >&2; exit 1; }

command -v "$DOCKER" >/dev/null 2>&1 || die "docker client '$DOCKER' not found (apt-get install docker.io)"

if "$DOCKER" info >/dev/null 2>&1; then
  log "Docker engine is up ($("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

if [[ -n "${DOCKER_HOST:-}" && "${DOCKER_HOST}" != unix:///var/run/docker.sock && "${DOCKER_HOST}" != unix:///run/docker.sock ]]; then
  die "DOCKER_HOST=$DOCKER_HOST does not answer, and it is not the local engine this script can start"
fi

wait_for_engine() {
  local deadline=$((SECONDS + WAIT))
  while ((SECONDS < deadline)); do
    "$DOCKER" info >/dev/null 2>&1 && return 0
    # Stop waiting early if the daemon we started has died.
    if [[ -n "${1:-}" ]] && ! kill -0 "$1" 2>/dev/null; then return 1; fi
    sleep 0.5
  done
  return 1
}

# A dockerd that is already running (e.g. still starting up): wait for it instead of starting another.
if [[ -f "$PIDFILE" ]]; then
  oldpid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if [[ -n "$oldpid" ]] && kill -0 "$oldpid" 2>/dev/null && grep -q dockerd "/proc/$oldpid/cmdline" 2>/dev/null; then
    log "dockerd (pid $oldpid) is running but not answering yet; waiting up to ${WAIT}s"
    wait_for_engine "$oldpid" && { log "Docker engine is up"; exit 0; }
    if kill -0 "$oldpid" 2>/dev/null; then
      die "dockerd (pid $oldpid) is running but 'docker info' still fails after ${WAIT}s; not starting a second one"
    fi
    # e.g. the init script's dockerd (started by the docker.io package) died on bridge/iptables setup.
    log "dockerd (pid $oldpid) exited without answering; starting one of our own"
  fi
  if [[ -f "$PIDFILE" ]]; then
    log "removing stale $PIDFILE (pid ${oldpid:-?} is gone)"
    rm -f "$PIDFILE"
  fi
fi

[[ "$(id -u)" == "0" ]] || die "the Docker engine is not running and starting dockerd needs root (or start it yourself: systemctl start docker)"
command -v dockerd >/dev/null 2>&1 || die "dockerd not found (apt-get install docker.io)"

LOGFILE="${DOCKERD_LOG:-$(mktemp "${TMPDIR:-/tmp}/dockerd.XXXXXX.log")}"
# shellcheck disable=SC2086 # DOCKERD_EXTRA_ARGS is deliberately word-split
setsid dockerd --bridge=none --iptables=false --ip-masq=false ${DOCKERD_EXTRA_ARGS:-} \
  </dev/null >>"$LOGFILE" 2>&1 &
pid=$!
log "started dockerd (pid $pid), log: $LOGFILE; waiting up to ${WAIT}s"

if wait_for_engine "$pid"; then
  log "Docker engine is up after ${SECONDS}s ($("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

if kill -0 "$pid" 2>/dev/null; then
  log "dockerd did not answer within ${WAIT}s; stopping it (pid $pid)"
  kill "$pid" 2>/dev/null || true
else
  log "dockerd exited"
fi
log "last lines of $LOGFILE:"
tail -n 40 "$LOGFILE" >&2 || true
die "could not start the Docker engine"
