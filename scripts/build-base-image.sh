#!/usr/bin/env bash
# Build the local skill base image (default: nanoclaw-base:bookworm) without any image registry.
#
# A minimal Debian root filesystem (debootstrap --variant=minbase + python3 + ca-certificates) is
# bootstrapped from this machine's own apt mirror and imported with `docker import`. Skills are then
# built on top of it with Dockerfile.skill (--build-arg BASE_IMAGE=nanoclaw-base:bookworm).
#
# Environment:
#   BASE_IMAGE   image name to create            (default nanoclaw-base:bookworm)
#   FORCE=1      rebuild even if the image exists
#   SUITE        Debian suite to bootstrap       (default: VERSION_CODENAME from /etc/os-release)
#   MIRROR       apt mirror URI                  (default: derived from the apt sources, else deb.debian.org)
#   DOCKER       docker client to use            (default: docker)
#
# Needs root, debootstrap and a running Docker engine.
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-nanoclaw-base:bookworm}"
DOCKER="${DOCKER:-docker}"
FALLBACK_MIRROR="http://deb.debian.org/debian"

log() { printf '[build-base-image] %s\n' "$*" >&2; }
die() { printf '[build-base-image] ERROR: %s\n' "$*" >&2; exit 1; }

command -v "$DOCKER" >/dev/null 2>&1 || die "docker client '$DOCKER' not found (install docker.io)"
"$DOCKER" info >/dev/null 2>&1 || die "cannot talk to the Docker engine ('$DOCKER info' failed); start it with scripts/start-docker.sh"

if [[ "${FORCE:-0}" != "1" ]] && "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "image $BASE_IMAGE already exists; nothing to do (FORCE=1 rebuilds)"
  exit 0
fi

[[ "$(id -u)" == "0" ]] || die "debootstrap needs root (run as root or via sudo)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found (apt-get install debootstrap)"

# --- suite ---------------------------------------------------------------------------------------
if [[ -z "${SUITE:-}" ]]; then
  SUITE="$( . /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}" )" || true
  SUITE="${SUITE:-bookworm}"
fi

# --- mirror: first apt source (deb822 *.sources, then one-line *.list) serving $SUITE main --------
# Prints "<uri> <signed-by-or-empty>".
find_mirror() {
  local f
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    awk -v suite="$SUITE" '
      function flush() {
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && (" " suites " ") ~ (" " suite " ") &&
            (" " comps " ") ~ / main / && uris != "" && enabled !~ /^[ \t]*no/) {
          split(uris, u, /[ \t]+/); print u[1], signed; found = 1; exit
        }
        types = uris = suites = comps = signed = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        key = tolower($0); sub(/:.*/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
        if (key == "types") types = val; else if (key == "uris") uris = val
        else if (key == "suites") suites = val; else if (key == "components") comps = val
        else if (key == "signed-by") signed = val; else if (key == "enabled") enabled = val
      }
      END { if (!found) flush() }
    ' "$f" | head -n1
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r "$f" ]] || continue
    awk -v suite="$SUITE" '
      /^[ \t]*deb[ \t]/ {
        i = 2; signed = ""
        if ($2 ~ /^\[/) {                       # options: [arch=amd64 signed-by=/x.gpg]
          while (i <= NF) { if ($i ~ /^signed-by=/) { signed = $i; sub(/^signed-by=/, "", signed); sub(/\]$/, "", signed) }
                            if ($i ~ /\]$/) { i++; break } i++ }
        }
        if ($(i+1) == suite) { for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i, signed; exit } }
      }
    ' "$f" | head -n1
  done
  shopt -u nullglob
}

KEYRING=""
if [[ -z "${MIRROR:-}" ]]; then
  read -r MIRROR KEYRING < <(find_mirror | head -n1; echo) || true
  if [[ -z "${MIRROR:-}" ]]; then
    MIRROR="$FALLBACK_MIRROR"
    log "no apt source for '$SUITE main' found in /etc/apt; falling back to $MIRROR"
  fi
fi
MIRROR="${MIRROR%/}"
# Signed-By may also be an inline key block; only a file path is usable by debootstrap.
[[ -n "$KEYRING" && -f "$KEYRING" ]] || KEYRING=""
[[ -n "$KEYRING" ]] || { [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] && KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg; } || true

# debootstrap downloads with wget, which ignores apt's proxy settings: carry them over.
if command -v apt-config >/dev/null 2>&1; then
  APT_HTTP_PROXY="" APT_HTTPS_PROXY=""
  eval "$(apt-config shell APT_HTTP_PROXY Acquire::http::Proxy APT_HTTPS_PROXY Acquire::https::Proxy)"
  [[ -z "${http_proxy:-}" && -n "$APT_HTTP_PROXY" && "$APT_HTTP_PROXY" != DIRECT ]] && export http_proxy="$APT_HTTP_PROXY"
  [[ -z "${https_proxy:-}" && -n "$APT_HTTPS_PROXY" && "$APT_HTTPS_PROXY" != DIRECT ]] && export https_proxy="$APT_HTTPS_PROXY"
fi

# --- bootstrap -----------------------------------------------------------------------------------
WORKDIR="$(mktemp -d "${TMPDIR:-/var/tmp}/nanoclaw-base.XXXXXX")"
ROOTFS="$WORKDIR/rootfs"
DEBOOTSTRAP_PID=""
cleanup() {
  local rc=$?
  # Interrupted while debootstrap runs: stop its whole process group (it runs dpkg in a chroot).
  if [[ -n "$DEBOOTSTRAP_PID" ]] && kill -0 "$DEBOOTSTRAP_PID" 2>/dev/null; then
    kill -TERM -- "-$DEBOOTSTRAP_PID" 2>/dev/null || kill -TERM "$DEBOOTSTRAP_PID" 2>/dev/null || true
    wait "$DEBOOTSTRAP_PID" 2>/dev/null || true
  fi
  # debootstrap mounts proc/sys (and sometimes dev/pts) inside the target; if it died half-way they
  # may still be mounted. Unmount deepest first, then delete without crossing filesystems.
  if [[ -d "$WORKDIR" ]]; then
    awk -v root="$WORKDIR/" 'index($2, root) == 1 { print $2 }' /proc/self/mounts | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$WORKDIR" || log "warning: could not fully remove $WORKDIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted; cleaning up"; exit 130' INT TERM

START=$(date +%s)
log "bootstrapping Debian $SUITE (minbase + python3) from $MIRROR into $ROOTFS"
DEBOOTSTRAP_ARGS=(--variant=minbase --include=python3,ca-certificates)
[[ -n "$KEYRING" ]] && DEBOOTSTRAP_ARGS+=("--keyring=$KEYRING")
# In its own session (so an interrupt can stop the whole tree) and in the background (so that `wait`,
# unlike a foreground command, lets the INT/TERM trap run at once).
setsid debootstrap "${DEBOOTSTRAP_ARGS[@]}" "$SUITE" "$ROOTFS" "$MIRROR" >"$WORKDIR/debootstrap.log" 2>&1 &
DEBOOTSTRAP_PID=$!
if ! wait "$DEBOOTSTRAP_PID"; then
  DEBOOTSTRAP_PID=""
  tail -n 40 "$WORKDIR/debootstrap.log" >&2 || true
  [[ -f "$ROOTFS/debootstrap/debootstrap.log" ]] && tail -n 40 "$ROOTFS/debootstrap/debootstrap.log" >&2
  die "debootstrap failed (suite=$SUITE mirror=$MIRROR); see the log above"
fi
DEBOOTSTRAP_PID=""
log "debootstrap finished in $(( $(date +%s) - START ))s"

[[ -x "$ROOTFS/usr/bin/python3" ]] || die "python3 missing from the bootstrapped root filesystem"

# Trim: package caches, apt lists, docs/man pages, host-specific files copied in by debootstrap.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin \
       "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log "$ROOTFS"/debootstrap \
       "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/* \
       "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/*
find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
# Docker supplies these at run time.
: > "$ROOTFS/etc/resolv.conf"; : > "$ROOTFS/etc/hostname"
rm -f "$ROOTFS/etc/machine-id"; : > "$ROOTFS/etc/machine-id"
# Apt inside the image points at the same mirror (debootstrap already wrote sources.list).

log "importing into Docker as $BASE_IMAGE"
tar --numeric-owner --xattrs -C "$ROOTFS" -c . |
  "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL org.opencontainers.image.title=nanoclaw-base org.opencontainers.image.description=debian-$SUITE-minbase-python3" \
    --message "nanoclaw base: debootstrap --variant=minbase $SUITE from $MIRROR" \
    - "$BASE_IMAGE" >/dev/null

"$DOCKER" run --rm --network none "$BASE_IMAGE" python3 -c 'import ssl, json, urllib.request' \
  || die "smoke test of $BASE_IMAGE failed (python3 could not import ssl/json/urllib)"

SIZE=$("$DOCKER" image inspect --format '{{.Size}}' "$BASE_IMAGE")
log "built $BASE_IMAGE ($(( SIZE / 1024 / 1024 )) MiB) in $(( $(date +%s) - START ))s"
