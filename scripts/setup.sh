#!/usr/bin/env bash
# Set up everything CivicMap needs on this machine, idempotently:
# Debian packages, PostgreSQL + PostGIS, Redis, .venv, the database,
# front-end packages, migrations and static files.
#
# Every step checks before it acts, so a second run takes seconds.
#
# Environment:
#   DATABASE_URL   default postgis://root@127.0.0.1:5432/civicmap
#   REDIS_URL      default redis://127.0.0.1:6379/0
#   WITH_BROWSER=1 also install Debian's chromium, chromium-headless-shell (the tests')
#   and chromium-driver (make test)
#   WITH_REPLICA=1 also make and start the local streaming replica (scripts/replica.sh;
#                  make test, make run WITH_REPLICA=1)
#   SKIP_DJANGO=1  skip migrate/collectstatic (only for working on this script)
# Options:
#   --venv-only    only build .venv (used by `make lint`)
set -Eeuo pipefail  # -E: the ERR trap below also fires inside functions

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
# set -e alone would exit without a word; say which command failed.
# Top-level only: a failure inside (...) would otherwise be reported twice.
trap '_rc=$?; if ((BASH_SUBSHELL == 0)); then warn "setup.sh failed (status $_rc) at line $LINENO: $BASH_COMMAND"; fi' ERR

WITH_BROWSER="${WITH_BROWSER:-0}"
WITH_REPLICA="${WITH_REPLICA:-0}"
SKIP_DJANGO="${SKIP_DJANGO:-0}"

parse_url DB "$DATABASE_URL"
DB_PORT="${DB_PORT:-5432}"
DB_USER="${DB_USER:-$(id -un)}"
DB_LOCAL=0
is_local_host "$DB_HOST" && DB_LOCAL=1

# --------------------------------------------------------------------------
# Debian packages
# --------------------------------------------------------------------------

# Run a command as root that may leave a daemon behind (PostgreSQL, Redis,
# a postinst that starts a service). fd 9 is closed for it: it holds
# var/setup.lock, and a daemon inheriting it would keep every later setup
# waiting on the lock for as long as the daemon lives.
unlocked_daemon() {
  as_root "$@" 9>&-
}

APT_UPDATED=0

pkg_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# apt_install PKG...: installs those not yet installed; `apt-get update` runs
# at most once per setup run and only when something is actually missing.
apt_install() {
  local missing=() p
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  if ! have apt-get; then
    note "no apt-get here: install these yourself if needed: ${missing[*]}"
    return 0
  fi
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ((APT_UPDATED == 0)); then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root apt-get install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >/dev/null 9>&-  # 9>&-: see unlocked_daemon
}

# The newest cluster line of `pg_lsclusters -h` on our port, if any:
# "VER NAME PORT STATUS OWNER DATADIR LOG".
pg_cluster_line() {
  have pg_lsclusters || return 0
  pg_lsclusters -h 2>/dev/null | awk -v port="$DB_PORT" '$3 == port' | tail -n 1
}

# pg_cluster: sets PG_VER, PG_NAME, PG_STATUS for the cluster on our port.
pg_cluster() {
  local line
  line="$(pg_cluster_line)"
  [[ -n "$line" ]] || die "no local PostgreSQL cluster on port $DB_PORT (pg_lsclusters)"
  read -r PG_VER PG_NAME _ PG_STATUS _ <<<"$line"
}

# Redis is needed locally only when nothing already answers on REDIS_URL.
redis_needed_locally() {
  parse_url R "$REDIS_URL"
  is_local_host "$R_HOST" && ! redis_ping && ! have redis-server
}

# What `pip install -e '.[dev]'` needs: psycopg2 compiles against libpq
# (pg_config) with gcc; Debian's own python3 ships venv/ensurepip apart.
build_packages() {
  local pkgs=(libpq-dev build-essential)
  "$BASE_PYTHON" -c 'import ensurepip, venv' 2>/dev/null || pkgs+=(python3-venv)
  printf '%s\n' "${pkgs[@]}"
}

wanted_packages() {
  build_packages
  # GeoDjango loads libgdal through ctypes; the unversioned .so comes with -dev.
  local pkgs=(gdal-bin libgdal-dev)
  if ((DB_LOCAL)); then
    [[ -n "$(pg_cluster_line)" ]] || pkgs+=(postgresql)
  fi
  have psql || pkgs+=(postgresql-client)
  # msgfmt compiles the Chinese translations (locale/*.po) at set-up.
  have msgfmt || pkgs+=(gettext)
  if redis_needed_locally; then pkgs+=(redis-server); fi
  # A CJK font: the governance report's PDF embeds it, and without it Chinese renders as
  # boxes in the browser tests' screenshots.
  pkgs+=(fonts-wqy-microhei)
  # Browser tests drive Debian's headless shell, the map benchmark its full Chromium; a test
  # tool's own browser download cannot work on these machines.
  if [[ "$WITH_BROWSER" == 1 ]]; then
    pkgs+=(chromium chromium-headless-shell chromium-driver)
  fi
  if [[ -f frontend/package.json ]] && ! have npm; then pkgs+=(nodejs npm); fi
  printf '%s\n' "${pkgs[@]}"
}

install_system_packages() {
  log "system packages"
  local pkgs
  mapfile -t pkgs < <("${1:-wanted_packages}")
  apt_install "${pkgs[@]}"
}

# --------------------------------------------------------------------------
# PostgreSQL (only when DATABASE_URL points at this machine)
# --------------------------------------------------------------------------

# Debian creates 15/main when the postgresql package is installed; create it
# ourselves if that was switched off (create_main_cluster = false).
ensure_pg_cluster() {
  [[ -n "$(pg_cluster_line)" ]] && return 0
  local major
  major="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)"
  [[ -n "$major" ]] || die "PostgreSQL is not installed and apt-get is unavailable"
  log "creating PostgreSQL cluster $major/main on port $DB_PORT"
  unlocked_daemon pg_createcluster --port "$DB_PORT" "$major" main >/dev/null
}

pg_ready() {
  pg_isready -q -h "${DB_HOST:-127.0.0.1}" -p "$DB_PORT" >/dev/null 2>&1
}

start_postgres() {
  pg_cluster
  if [[ "$PG_STATUS" != online* ]]; then
    log "starting PostgreSQL $PG_VER/$PG_NAME"
    # --skip-systemctl-redirect: these machines have no running systemd.
    unlocked_daemon pg_ctlcluster --skip-systemctl-redirect "$PG_VER" "$PG_NAME" start
  fi
  local i
  for i in $(seq 1 60); do
    pg_ready && return 0
    sleep 0.5
  done
  die "PostgreSQL $PG_VER/$PG_NAME did not become ready on port $DB_PORT (see /var/log/postgresql/)"
}

install_postgis_package() {
  pg_cluster
  apt_install "postgresql-$PG_VER-postgis-3"
}

# Local superuser role named like DATABASE_URL's user (root by default), so
# Django's postgis backend can CREATE EXTENSION in the test database.
ensure_pg_role() {
  local q_role is_super
  q_role="${DB_USER//\'/\'\'}"
  is_super="$(as_postgres psql -p "$DB_PORT" -Atqc \
    "SELECT rolsuper FROM pg_roles WHERE rolname = '$q_role'")"
  if [[ -z "$is_super" ]]; then
    log "creating PostgreSQL superuser role $DB_USER"
    as_postgres createuser -p "$DB_PORT" -s "$DB_USER"
  elif [[ "$is_super" != t ]]; then
    log "making PostgreSQL role $DB_USER a superuser"
    as_postgres psql -p "$DB_PORT" -qc "ALTER ROLE \"$DB_USER\" SUPERUSER" >/dev/null
  fi
  if [[ -n "$DB_PASSWORD" ]]; then
    local q_pw="${DB_PASSWORD//\'/\'\'}"
    as_postgres psql -p "$DB_PORT" -qc "ALTER ROLE \"$DB_USER\" PASSWORD '$q_pw'" >/dev/null
  fi
}

can_connect() {
  PGCONNECT_TIMEOUT=5 psql -w "$(pg_url "$DATABASE_URL" postgres)" -Atqc 'SELECT 1' >/dev/null 2>&1
}

# A fresh Debian cluster asks for a scram password on TCP connections, and
# the demo URL has none. This is a local demo database on loopback only, so
# we trust our role from 127.0.0.1/::1: the lines go first because pg_hba
# takes the first matching line. Done only when connecting actually fails.
ensure_pg_trust() {
  can_connect && return 0
  local hba
  pg_cluster
  hba="$(as_postgres psql -p "$DB_PORT" -Atqc 'SHOW hba_file')"
  log "allowing $DB_USER from loopback without password in $hba (local demo only)"
  local tmp
  tmp="$(mktemp)"
  {
    echo "# civicmap scripts/setup.sh: local demo database, trust $DB_USER on loopback only"
    echo "host all $DB_USER 127.0.0.1/32 trust"
    echo "host all $DB_USER ::1/128 trust"
    as_root cat "$hba"
  } >"$tmp"
  # cat > keeps the file's owner and mode (postgres, 0640).
  as_root sh -c 'cat "$1" > "$2"' _ "$tmp" "$hba"
  rm -f "$tmp"
  unlocked_daemon pg_ctlcluster --skip-systemctl-redirect "$PG_VER" "$PG_NAME" reload
  local i
  for i in $(seq 1 20); do
    can_connect && return 0
    sleep 0.25
  done
  die "still cannot connect to $DB_HOST:$DB_PORT as $DB_USER after editing $hba"
}

setup_local_postgres() {
  have apt-get || have pg_lsclusters || {
    note "no apt-get and no local PostgreSQL tools: assuming PostgreSQL is managed by you"
    return 0
  }
  log "PostgreSQL (local)"
  ensure_pg_cluster
  start_postgres
  install_postgis_package
  ensure_pg_role
  ensure_pg_trust
}

# --------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------

start_redis() {
  redis_ping && return 0
  parse_url R "$REDIS_URL"
  if ! is_local_host "$R_HOST"; then
    warn "no Redis answers at $REDIS_URL (remote; not starting one). Celery will fail."
    return 0
  fi
  have redis-server || die "redis-server is not installed and no Redis answers at $REDIS_URL"
  log "starting Redis on port ${R_PORT:-6379}"
  as_root mkdir -p /var/lib/redis /var/log/redis
  # No persistence: Redis is only the Celery broker/cache for the demo.
  unlocked_daemon redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "${R_PORT:-6379}" \
    --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/civicmap.log
  local i
  for i in $(seq 1 40); do
    redis_ping && return 0
    sleep 0.25
  done
  die "Redis did not answer at $REDIS_URL (see /var/log/redis/civicmap.log)"
}

# --------------------------------------------------------------------------
# Python virtualenv
# --------------------------------------------------------------------------

venv_ok() {
  [[ -x "$VENV/bin/python" ]] &&
    "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null
}

ensure_venv() {
  if ! venv_ok; then
    # pyproject.toml says requires-python >=3.11,<3.12.
    "$BASE_PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
      die "$BASE_PYTHON is $("$BASE_PYTHON" --version 2>&1); CivicMap needs Python 3.11 (put python3.11 on PATH)"
    log "creating .venv ($("$BASE_PYTHON" --version))"
    rm -rf "$VENV"
    "$BASE_PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  fi
  # Reinstall only when pyproject.toml changed since the last good install.
  local sum stamp
  sum="$(sha256sum pyproject.toml | cut -c1-64)"
  stamp="$VENV/.installed-$sum"
  if [[ -f "$stamp" ]]; then
    log "python packages up to date"
    return 0
  fi
  log "pip install -e '.[dev]' (pyproject.toml changed or first install)"
  "$VENV/bin/pip" install -q --disable-pip-version-check -e '.[dev]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
}

# --------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------

ensure_database() {
  log "database $DB_DB with PostGIS"
  local admin_url db_url q_db exists
  admin_url="$(pg_url "$DATABASE_URL" postgres)"
  db_url="$(pg_url "$DATABASE_URL")"
  [[ -n "$DB_DB" ]] || die "DATABASE_URL has no database name: $DATABASE_URL"
  PGCONNECT_TIMEOUT=5 psql -w "$admin_url" -Atqc 'SELECT 1' >/dev/null ||
    die "cannot connect to PostgreSQL at ${DB_HOST:-socket}:$DB_PORT as $DB_USER"
  q_db="${DB_DB//\'/\'\'}"
  exists="$(psql -w "$admin_url" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$q_db'")"
  if [[ -z "$exists" ]]; then
    note "creating database $DB_DB"
    psql -w "$admin_url" -qc "CREATE DATABASE \"${DB_DB//\"/\"\"}\"" >/dev/null
  fi
  # Check first so a re-run against a remote server needs no CREATE rights.
  exists="$(psql -w "$db_url" -Atqc "SELECT 1 FROM pg_extension WHERE extname = 'postgis'")"
  [[ -n "$exists" ]] && return 0
  local err
  if ! err="$(psql -w "$db_url" -qc 'CREATE EXTENSION IF NOT EXISTS postgis' 2>&1 >/dev/null)"; then
    err="$(head -n 1 <<<"$err")"
    case "$err" in
      *"is not available"*|*"could not open extension control file"*)
        die "PostGIS is not installed on the PostgreSQL server at ${DB_HOST:-socket}:$DB_PORT (install postgresql-<major>-postgis-3 there): $err" ;;
      *)
        die "cannot CREATE EXTENSION postgis in $DB_DB on ${DB_HOST:-socket}:$DB_PORT: $err" ;;
    esac
  fi
}

# --------------------------------------------------------------------------
# Front-end packages
# --------------------------------------------------------------------------

# Fingerprint of the npm inputs: package.json and, when there is one, the lock.
frontend_sum() {
  local inputs=(frontend/package.json)
  [[ -f frontend/package-lock.json ]] && inputs+=(frontend/package-lock.json)
  cat "${inputs[@]}" | sha256sum | cut -c1-64
}

ensure_frontend() {
  [[ -f frontend/package.json ]] || return 0
  have npm || die "frontend/package.json exists but npm is not installed"
  if [[ -f "frontend/node_modules/.civicmap-installed-$(frontend_sum)" ]]; then
    log "front-end packages up to date"
    return 0
  fi
  if [[ -f frontend/package-lock.json ]]; then
    log "npm ci (frontend/)"
    (cd frontend && npm ci --no-audit --no-fund)
  else
    log "npm install (frontend/, no lock file)"
    (cd frontend && npm install --no-audit --no-fund)
  fi
  # Stamp after installing: npm ci empties node_modules, and npm install
  # may just have written the lock file that is part of the fingerprint.
  rm -f frontend/node_modules/.civicmap-installed-*
  touch "frontend/node_modules/.civicmap-installed-$(frontend_sum)"
}

# --------------------------------------------------------------------------
# Django
# --------------------------------------------------------------------------

# One Django start-up for both steps. collectstatic with the compressing
# manifest storage takes seconds even when nothing changed, so it runs only
# when the fingerprint (name, size, mtime) of every file the static finders
# see differs from the last successful run, or STATIC_ROOT lost its files.
# The stamp lives in var/, not in STATIC_ROOT, where WhiteNoise would serve it.
read -r -d '' DJANGO_STEPS <<'PY' || true
import hashlib, os, sys
from pathlib import Path
from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command

print("==> compilemessages", flush=True)
call_command("compilemessages", ignore_patterns=[".venv", "var", "frontend/node_modules"],
             verbosity=0)
print("==> migrate", flush=True)
call_command("migrate", interactive=False, verbosity=0)

h = hashlib.sha256(repr((str(settings.STATIC_ROOT), settings.STORAGES)).encode())
for finder in get_finders():
    for path, storage in finder.list([]):
        st = os.stat(storage.path(path))
        h.update(f"{storage.location}|{path}|{st.st_size}|{st.st_mtime_ns}\n".encode())
stamp = Path(os.environ["CIVICMAP_VAR"]) / "collectstatic.sha256"
root = Path(settings.STATIC_ROOT)
done = root.is_dir() and any(root.iterdir())
if done and stamp.is_file() and stamp.read_text() == h.hexdigest():
    print("==> static files up to date", flush=True)
    sys.exit(0)
print("==> collectstatic", flush=True)
stamp.unlink(missing_ok=True)
call_command("collectstatic", interactive=False, verbosity=0)
stamp.write_text(h.hexdigest())
PY

django_setup() {
  if [[ "$SKIP_DJANGO" == 1 ]]; then
    note "SKIP_DJANGO=1: not running migrate/collectstatic"
    return 0
  fi
  [[ -f manage.py ]] || die "manage.py not found in $ROOT"
  # manage.py picks the settings module, as it does for every other command; outside DEBUG
  # the settings need a secret (the one kept in var/secret_key, made on the first run).
  secret_key_ensure "$VAR_DIR"
  CIVICMAP_VAR="$VAR_DIR" "$VENV/bin/python" manage.py shell -v 0 -c "$DJANGO_STEPS"
}

# The project's own modules byte-compiled once, as pip does for the packages it installs: with
# PYTHONDONTWRITEBYTECODE (set on some machines) every process would otherwise compile the
# ~400 modules it imports (about 2 s of CPU for a test worker, 0.3-0.5 s for each manage.py).
# Test modules are left out: pytest compiles its own rewritten copies of them.
compile_bytecode() {
  "$VENV/bin/python" -m compileall -q -j 0 -x '/node_modules/|/(test_[^/]*|conftest)\.py$' \
    civicmap issues patrol stations frontend fixtures tests bench manage.py gunicorn.conf.py \
    >/dev/null
}

# --------------------------------------------------------------------------

main() {
  mkdir -p "$VAR_DIR/log"
  # Two setups at once (make start + make test) would race on apt and pip.
  if have flock; then
    exec 9>"$VAR_DIR/setup.lock"
    if ! flock -n 9; then
      note "another setup is running; waiting for it (var/setup.lock)"
      flock -w 1800 9 || die "gave up waiting for var/setup.lock"
    fi
  fi

  if [[ "${1:-}" == --venv-only ]]; then
    install_system_packages build_packages
    ensure_venv
    return 0
  fi

  local t0=$SECONDS
  install_system_packages
  if ((DB_LOCAL)); then setup_local_postgres; fi
  start_redis
  ensure_venv
  ensure_database
  if [[ "$WITH_REPLICA" == 1 ]]; then
    if ((DB_LOCAL)); then bash "$ROOT/scripts/replica.sh" start
    else note "WITH_REPLICA=1: DATABASE_URL is not local, so no replica is made here"; fi
  fi
  ensure_frontend
  compile_bytecode
  django_setup
  log "setup done in $((SECONDS - t0))s"
}

main "$@"
