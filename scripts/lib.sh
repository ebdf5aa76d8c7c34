# shellcheck shell=bash
# Shared helpers for scripts/setup.sh and scripts/run.sh. Sourced, never run.
# The caller sets `set -euo pipefail`; nothing here reads stdin, so the
# scripts work the same under nohup, CI (no stdin) and a terminal.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Used by the scripts that source this file.
# shellcheck disable=SC2034
VENV="$ROOT/.venv"
# shellcheck disable=SC2034
VAR_DIR="$ROOT/var"

# Defaults match the Makefile; exported so Django, Celery and pytest see them.
export DATABASE_URL="${DATABASE_URL:-postgis://root@127.0.0.1:5432/civicmap}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"

log()  { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

have() { command -v "$1" >/dev/null 2>&1; }

# The system Python that builds .venv and parses URLs here. Resolved once,
# at source time, into a global: with pyenv every call through the `python3`
# shim costs ~100 ms, and a cache set inside $(...) would be lost.
resolve_base_python() {
  local cand
  for cand in python3.11 python3; do
    if have "$cand"; then
      BASE_PYTHON="$("$cand" -c 'import sys; print(sys.executable)' 2>/dev/null)" || continue
      [[ -n "$BASE_PYTHON" ]] && return 0
    fi
  done
  die "python3 not found (need Python 3.11)"
}
[[ -n "${BASE_PYTHON:-}" ]] || resolve_base_python

# parse_url PREFIX URL: sets PREFIX_SCHEME/HOST/PORT/USER/PASSWORD/DB.
# Python's urllib handles percent-encoded passwords and IPv6 hosts, which a
# bash regex would get wrong.
parse_url() {
  local prefix="$1" url="$2"
  eval "$("$BASE_PYTHON" - "$prefix" "$url" <<'PY'
import shlex, sys
from urllib.parse import urlsplit, unquote
prefix, url = sys.argv[1], sys.argv[2]
u = urlsplit(url)
vals = {
    "SCHEME": u.scheme,
    "HOST": u.hostname or "",
    "PORT": str(u.port or ""),
    "USER": unquote(u.username or ""),
    "PASSWORD": unquote(u.password or ""),
    "DB": unquote(u.path.lstrip("/")),
}
for k, v in vals.items():
    print(f"{prefix}_{k}={shlex.quote(v)}")
PY
)"
}

# libpq (psql) only knows postgresql:// and postgres://; Django's GeoDjango
# URLs say postgis://. pg_url URL [DBNAME] rewrites the scheme and, if given,
# the database name (to reach the maintenance db `postgres`).
pg_url() {
  "$BASE_PYTHON" - "$1" "${2:-}" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
path = "/" + sys.argv[2] if sys.argv[2] else u.path
print(urlunsplit(("postgresql", u.netloc, path, u.query, u.fragment)))
PY
}

is_local_host() {
  case "$1" in
    ""|127.0.0.1|localhost|::1) return 0 ;;
    *) return 1 ;;
  esac
}

# Run a command as root: directly when we are root (the fresh-machine case),
# through sudo on a developer laptop.
as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"
  elif have sudo; then sudo "$@"
  else die "need root for: $*"
  fi
}

# Run a command as the postgres OS user (peer auth on the local socket).
# cd / so psql does not complain that it cannot read the repo directory.
as_postgres() {
  if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@")
  else (cd / && sudo -u postgres "$@")
  fi
}

# redis_ping: true when a Redis answers at REDIS_URL. Falls back to a raw
# PING over /dev/tcp when redis-cli is not installed (remote Redis, laptop).
redis_ping() {
  if have redis-cli; then
    [[ "$(timeout 3 redis-cli -u "$REDIS_URL" ping 2>/dev/null)" == "PONG" ]]
    return
  fi
  parse_url R "$REDIS_URL"
  local reply=""
  # shellcheck disable=SC2154  # R_HOST/R_PORT come from parse_url
  exec 8<>"/dev/tcp/${R_HOST:-127.0.0.1}/${R_PORT:-6379}" 2>/dev/null || return 1
  printf 'PING\r\n' >&8
  IFS= read -r -t 3 reply <&8 || true
  exec 8<&- 8>&-
  [[ "$reply" == +PONG* || "$reply" == -NOAUTH* ]]
}

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() {
  (exec 8<>"/dev/tcp/$1/$2") 2>/dev/null
}

# secret_key_ensure DIR: export DJANGO_SECRET_KEY for Django. A key already in the
# environment wins; else the one kept in DIR/secret_key, generated there once
# (mode 0600, under a umask so it is never readable by others, not even for a
# moment) and reused by every later run, so sessions and signed QR codes
# survive restarts. The key is never printed.
secret_key_ensure() {
  local dir="$1" file="$1/secret_key" tmp
  if [[ -n "${DJANGO_SECRET_KEY:-}" ]]; then
    export DJANGO_SECRET_KEY
    return 0
  fi
  if [[ ! -s "$file" ]]; then
    mkdir -p "$dir"
    tmp="$(mktemp "$dir/.secret_key.XXXXXX")"
    (umask 077 && "$BASE_PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$tmp")
    chmod 600 "$tmp"
    # mv -n: two first runs at once keep one key, the first written.
    mv -n "$tmp" "$file"
    rm -f "$tmp"
  fi
  DJANGO_SECRET_KEY="$(<"$file")"
  export DJANGO_SECRET_KEY
}
