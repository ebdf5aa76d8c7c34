#!/usr/bin/env bash
# Set up (scripts/setup.sh), seed the demo data, refresh the governance map's
# snapshot, then run the web server, the Celery worker and Celery beat in the
# foreground until told to stop.
#
# One Ctrl-C / SIGTERM stops all three. If any one of them dies, the others
# are stopped and this script exits non-zero, so a supervisor (or you) sees
# it. Reads no stdin: `nohup scripts/run.sh >var/log/run.log 2>&1 &` works.
#
# Environment: HOST (127.0.0.1), PORT (8000), SEED=0 to skip seed_demo,
# DJANGO_SECRET_KEY (else the one kept in var/secret_key, generated once),
# DEMO_LOGIN_HINT to change the login line printed once the site is up,
# WITH_REPLICA=1 to make and start the local streaming replica and read from it
# (DATABASE_REPLICA_URL, scripts/replica.sh), plus everything scripts/setup.sh reads.
set -Eeuo pipefail  # -E: the ERR trap below also fires inside functions

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
trap '_rc=$?; if ((BASH_SUBSHELL == 0)); then warn "run.sh failed (status $_rc) at line $LINENO: $BASH_COMMAND"; fi' ERR

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
SEED="${SEED:-1}"
STOP_TIMEOUT="${STOP_TIMEOUT:-20}"  # seconds before stragglers get SIGKILL

export PYTHONUNBUFFERED=1  # logs show up as they happen, not per 4 KiB

PIDS=()
NAMES=()
STOPPED=0
STEP_PID=""  # setup.sh or seed_demo while one of them runs

# start NAME CMD...: run CMD in its own process group (setsid), so stopping
# it also stops its children (gunicorn and celery workers fork), and so a
# terminal's Ctrl-C reaches only this script, which then stops everything
# in order. Output lines are prefixed with NAME.
start() {
  local name="$1"
  shift
  # The prefixing sed ignores INT/TERM so a terminal's Ctrl-C does not cut
  # the services' shutdown logs short; it ends when they close the pipe.
  setsid "$@" > >(trap '' INT TERM; exec sed -u "s/^/[$name] /") 2>&1 &
  PIDS+=("$!")
  NAMES+=("$name")
  note "$name started (pid $!)"
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

any_group_alive() {
  local pid
  for pid in "${PIDS[@]}"; do
    group_alive "$pid" && return 0
  done
  return 1
}

# TERM every process group, give them STOP_TIMEOUT seconds to finish what
# they are doing (gunicorn requests, celery tasks), then KILL what is left.
stop_all() {
  ((STOPPED)) && return 0
  STOPPED=1
  ((${#PIDS[@]})) || return 0
  local pid i
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    any_group_alive || break
    sleep 0.2
  done
  for pid in "${PIDS[@]}"; do
    if group_alive "$pid"; then
      warn "process group $pid did not stop in ${STOP_TIMEOUT}s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  log "all stopped"
}

on_signal() {
  if [[ -n "$STEP_PID" ]] && kill -0 "$STEP_PID" 2>/dev/null; then
    log "received SIG$1 during set-up, stopping it"
    kill -TERM -- "-$STEP_PID" 2>/dev/null || true
    wait "$STEP_PID" 2>/dev/null || true
    exit 1
  fi
  log "received SIG$1, stopping web, worker and beat"
  stop_all
  exit 0
}

# run_step CMD...: run a set-up step in the background and wait for it, so
# that a SIGTERM (make stop) is handled at once instead of after the step;
# bash runs traps only between foreground commands, but interrupts `wait`.
# Its own process group, so stopping it also stops pip, npm or psql under it.
run_step() {
  setsid "$@" &
  STEP_PID=$!
  wait "$STEP_PID"
  STEP_PID=""
}

name_of() {
  local i
  for i in "${!PIDS[@]}"; do
    [[ "${PIDS[$i]}" == "$1" ]] && { printf '%s\n' "${NAMES[$i]}"; return; }
  done
  printf 'pid %s\n' "$1"
}

# The login line printed once the site is up. The password is read from
# fixtures/seed.py (which seed_demo uses) so the two cannot drift apart.
demo_login_hint() {
  if [[ -n "${DEMO_LOGIN_HINT:-}" ]]; then
    printf '%s\n' "$DEMO_LOGIN_HINT"
    return
  fi
  local pw
  pw="$(sed -n 's/^DEMO_PASSWORD = "\(.*\)"$/\1/p' fixtures/seed.py 2>/dev/null || true)"
  if [[ -n "$pw" ]]; then
    printf 'demo logins: admin, office1, cw_lead, rider1 (fixtures/demo_people.json), password %s\n' "$pw"
  else
    printf 'demo logins: see fixtures/demo_people.json and fixtures/seed.py\n'
  fi
}

# 0.0.0.0 / :: listen everywhere; the local check and the URL use loopback.
url_host() {
  case "$HOST" in
    0.0.0.0|""|::|"[::]") printf '127.0.0.1\n' ;;
    *) printf '%s\n' "$HOST" ;;
  esac
}

# Print the URL once the web server accepts connections; give up quietly
# after a minute, or as soon as one of the processes has died.
announce_when_up() {
  local host i pid
  host="$(url_host)"
  for ((i = 0; i < 120; i++)); do
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || return 0; done
    if port_open "$host" "$PORT"; then
      log "CivicMap is up: http://$host:$PORT/"
      note "$(demo_login_hint)"
      note "stop with Ctrl-C (or 'make stop' when started by 'make start')"
      return 0
    fi
    sleep 0.5
  done
  warn "web server not answering on $host:$PORT after 60s; still waiting"
}

main() {
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
  trap 'on_signal HUP' HUP

  # The secret before anything runs Django: generated once into var/secret_key (mode 0600)
  # and reused, passed to setup, web, worker and beat through the environment only.
  secret_key_ensure "$VAR_DIR"
  run_step bash "$ROOT/scripts/setup.sh"
  if [[ "${WITH_REPLICA:-0}" == 1 && -z "${DATABASE_REPLICA_URL:-}" ]]; then
    DATABASE_REPLICA_URL="$(bash "$ROOT/scripts/replica.sh" url)"
    export DATABASE_REPLICA_URL
    log "reads that may lag go to the replica: DATABASE_REPLICA_URL=$DATABASE_REPLICA_URL"
  fi

  if [[ "$SEED" != 0 ]]; then
    log "seed_demo"
    # --keep-history: a restart must not wipe what the demo users did since the last seed.
    run_step "$VENV/bin/python" manage.py seed_demo --keep-history
  fi
  # The governance map's snapshot now, not at beat's first tick (MAP_SNAPSHOT_INTERVAL_S
  # later): the first visitors get the fast page (frontend.services.map_snapshot_refresh).
  log "map_snapshot_refresh"
  run_step "$VENV/bin/python" manage.py map_snapshot_refresh

  if port_open "$(url_host)" "$PORT"; then
    die "port $PORT is already in use (another 'make run'? try 'make stop' or PORT=...)"
  fi

  trap 'stop_all' EXIT  # also on an unexpected error in this script

  log "starting web (gunicorn), worker and beat"
  mkdir -p "$VAR_DIR"
  start web "$VENV/bin/gunicorn" civicmap.wsgi:application \
    --config "$ROOT/gunicorn.conf.py" --bind "$HOST:$PORT" --graceful-timeout 10 \
    --access-logfile -
  start worker "$VENV/bin/celery" -A civicmap worker -l info --concurrency 2
  start beat "$VENV/bin/celery" -A civicmap beat -l info \
    --schedule "$VAR_DIR/celerybeat-schedule"

  announce_when_up

  # Block until the first of the three exits (a signal interrupts this and
  # runs on_signal instead).
  local dead="" rc=0
  wait -n -p dead "${PIDS[@]}" || rc=$?
  warn "$(name_of "$dead") exited (status $rc); stopping the others"
  stop_all
  # A service that exits on its own is a failure even with status 0.
  exit $((rc == 0 ? 1 : rc))
}

main "$@"
