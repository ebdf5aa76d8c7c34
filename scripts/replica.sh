#!/usr/bin/env bash
# A streaming replica of the local PostgreSQL cluster (PostgreSQL's own physical replication),
# for reads that may be a few seconds stale (DATABASE_REPLICA_URL; docs/DECISIONS.md D-050).
#
#   scripts/replica.sh [start]   make it if missing (pg_basebackup), start it if stopped, wait
#                                until it streams; quick and harmless when it already runs
#   scripts/replica.sh stop      stop it (the primary keeps its WAL in the slot meanwhile,
#                                up to max_slot_wal_keep_size)
#   scripts/replica.sh status    running or not, streaming or not, the replay lag
#   scripts/replica.sh url       print the DATABASE_REPLICA_URL for DATABASE_URL
#
# The replica copies the whole cluster (every database, the test databases included), so it is
# the machine's, not a checkout's: its data directory is beside the primary's, owned by postgres,
# and every clone on the machine shares it. One slot on the primary keeps the WAL it still
# needs; a slot the primary had to give up (the replica was stopped while too much WAL was
# written), a missing slot or a primary made anew makes the next start rebuild the replica.
#
# Environment: DATABASE_URL (the primary; local only), REPLICA_PORT (5433), REPLICA_DIR
# (/var/lib/postgresql/<major>/civicmap-replica), REPLICA_SLOT (civicmap_replica),
# REPLICA_WAL_KEEP (4GB: max_slot_wal_keep_size, set on the primary when it has no bound).
set -Eeuo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap '_rc=$?; if ((BASH_SUBSHELL == 0)); then warn "replica.sh failed (status $_rc) at line $LINENO: $BASH_COMMAND"; fi' ERR

parse_url DB "$DATABASE_URL"
DB_PORT="${DB_PORT:-5432}"
DB_USER="${DB_USER:-$(id -un)}"
REPLICA_PORT="${REPLICA_PORT:-5433}"
REPLICA_SLOT="${REPLICA_SLOT:-civicmap_replica}"
REPLICA_WAL_KEEP="${REPLICA_WAL_KEEP:-4GB}"
# How long a start waits for the standby to stream (seconds).
REPLICA_WAIT_S="${REPLICA_WAIT_S:-120}"

# psql against the primary's maintenance database, one value per line.
primary_sql() {
  PGCONNECT_TIMEOUT=5 psql -w "$(pg_url "$DATABASE_URL" postgres)" -XAtqc "$1"
}

replica_sql() {
  PGCONNECT_TIMEOUT=5 psql -w "host=127.0.0.1 port=$REPLICA_PORT user=$DB_USER dbname=postgres" \
    -XAtqc "$1"
}

# The primary's major version and binaries, from the server itself.
primary_binaries() {
  PG_MAJOR="$(primary_sql 'SHOW server_version_num')"
  PG_MAJOR="$((PG_MAJOR / 10000))"
  PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
  [[ -x "$PG_BIN/pg_ctl" ]] || die "no $PG_BIN/pg_ctl: install postgresql-$PG_MAJOR"
  REPLICA_DIR="${REPLICA_DIR:-/var/lib/postgresql/$PG_MAJOR/civicmap-replica}"
  REPLICA_LOG="${REPLICA_LOG:-/var/log/postgresql/postgresql-$PG_MAJOR-civicmap-replica.log}"
}

pg_ctl_replica() {
  # 7>&- 9>&-: the postmaster must not inherit our lock files (replica.lock, setup.lock); it
  # would hold them for as long as it runs and every later start would wait on them.
  as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR" "$@" 7>&- 9>&-
}

replica_running() {
  [[ -f "$REPLICA_DIR/postmaster.pid" ]] && pg_ctl_replica status >/dev/null 2>&1
}

# A replication connection from 127.0.0.1 as DB_USER: one pg_hba line on the primary (trust on
# loopback, like the rest of this local demo cluster; setup.sh's ensure_pg_trust), then reload.
ensure_replication_allowed() {
  local conninfo="host=127.0.0.1 port=$DB_PORT user=$DB_USER replication=true"
  PGCONNECT_TIMEOUT=5 psql -w "$conninfo" -XAtqc IDENTIFY_SYSTEM >/dev/null 2>&1 && return 0
  local hba tmp
  hba="$(primary_sql 'SHOW hba_file')"
  log "allowing replication connections of $DB_USER from 127.0.0.1 in $hba"
  tmp="$(mktemp)"
  {
    echo "# civicmap scripts/replica.sh: the local streaming replica, loopback only"
    echo "host replication $DB_USER 127.0.0.1/32 trust"
    as_root cat "$hba"
  } >"$tmp"
  as_root sh -c 'cat "$1" > "$2"' _ "$tmp" "$hba"  # keeps the file's owner and mode
  rm -f "$tmp"
  primary_sql 'SELECT pg_reload_conf()' >/dev/null
  local i
  for i in $(seq 1 20); do
    PGCONNECT_TIMEOUT=5 psql -w "$conninfo" -XAtqc IDENTIFY_SYSTEM >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  die "replication connections still refused after editing $hba"
}

# A slot keeps the WAL the replica has not received yet; with no bound a stopped replica would
# let the primary's disk fill up, so a primary without one gets REPLICA_WAL_KEEP.
ensure_wal_bound() {
  [[ "$(primary_sql 'SHOW max_slot_wal_keep_size')" == "-1" ]] || return 0
  log "max_slot_wal_keep_size = $REPLICA_WAL_KEEP on the primary (ALTER SYSTEM)"
  primary_sql "ALTER SYSTEM SET max_slot_wal_keep_size = '$REPLICA_WAL_KEEP'" >/dev/null
  primary_sql 'SELECT pg_reload_conf()' >/dev/null
}

# "reserved", "extended", "unreserved", "lost", or empty when there is no such slot.
slot_status() {
  primary_sql "SELECT COALESCE(wal_status, 'reserved') FROM pg_replication_slots
               WHERE slot_name = '$REPLICA_SLOT'"
}

# Reasons the replica in REPLICA_DIR cannot go on from where it is, one line, or nothing.
rebuild_reason() {
  [[ -f "$REPLICA_DIR/PG_VERSION" ]] || { echo "no replica in $REPLICA_DIR"; return; }
  [[ -f "$REPLICA_DIR/standby.signal" ]] || { echo "$REPLICA_DIR is not a standby"; return; }
  local slot ours theirs
  slot="$(slot_status)"
  [[ -n "$slot" ]] || { echo "the primary has no slot $REPLICA_SLOT"; return; }
  [[ "$slot" != lost ]] || { echo "the primary removed WAL the replica still needed"; return; }
  ours="$(as_postgres "$PG_BIN/pg_controldata" "$REPLICA_DIR" |
          awk -F': *' '/^Database system identifier/ {print $2}')"
  theirs="$(primary_sql 'SELECT system_identifier FROM pg_control_system()')"
  [[ "$ours" == "$theirs" ]] || echo "the primary is another cluster than the replica's"
}

# postgresql.conf of the replica: the primary's own settings from its configuration files (the
# standby needs max_connections and the like at least as high), then the standby's.
replica_conf() {
  echo "# Written by civicmap scripts/replica.sh: the primary's settings, then the standby's."
  primary_sql "SELECT name || ' = ''' || replace(setting, '''', '''''') || ''''
               FROM pg_settings WHERE source = 'configuration file'
               AND name NOT IN ('port', 'cluster_name', 'external_pid_file', 'data_directory',
                                'hba_file', 'ident_file', 'config_file')
               ORDER BY name"
  cat <<CONF
port = $REPLICA_PORT
cluster_name = '$PG_MAJOR/civicmap-replica'
hot_standby = on
# Off: with feedback the slot holds the primary's xmin horizon at the oldest transaction of
# any database of the cluster, so VACUUM everywhere keeps dead rows while any long
# transaction runs (bench templates seeded beside a test run kept over a million dead index
# entries). The reads sent here take well under a second; only one still running when replay
# must remove rows it sees, max_standby_streaming_delay (30 s) later, would be cancelled.
hot_standby_feedback = off
CONF
}

replica_build() {
  log "building the replica in $REPLICA_DIR (pg_basebackup from port $DB_PORT)"
  local t0=$SECONDS
  if replica_running; then pg_ctl_replica stop -m fast >/dev/null; fi
  as_root rm -rf "$REPLICA_DIR"
  if [[ -n "$(slot_status)" ]]; then
    primary_sql "SELECT pg_drop_replication_slot('$REPLICA_SLOT')" >/dev/null
  fi
  primary_sql "SELECT pg_create_physical_replication_slot('$REPLICA_SLOT', true)" >/dev/null
  as_root install -d -o postgres -g postgres -m 0700 "$REPLICA_DIR"
  # -R: standby.signal and primary_conninfo; -X stream: the WAL written meanwhile too;
  # --checkpoint=fast: start now rather than at the primary's next checkpoint.
  as_postgres "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$DB_PORT" -U "$DB_USER" -w \
    -D "$REPLICA_DIR" -R -X stream -S "$REPLICA_SLOT" --checkpoint=fast 7>&- 9>&-
  local conf
  conf="$(replica_conf)"
  as_postgres sh -c 'cat > "$1"' _ "$REPLICA_DIR/postgresql.conf" <<<"$conf"
  # The same client rules as the primary (same roles, same loopback trust).
  as_root cat "$(primary_sql 'SHOW hba_file')" |
    as_postgres sh -c 'cat > "$1"' _ "$REPLICA_DIR/pg_hba.conf"
  as_root cat "$(primary_sql 'SHOW ident_file')" |
    as_postgres sh -c 'cat > "$1"' _ "$REPLICA_DIR/pg_ident.conf"
  note "base backup of $(du -sh "$REPLICA_DIR" | cut -f1) in $((SECONDS - t0))s"
}

replica_start() {
  replica_running && return 0
  if port_open 127.0.0.1 "$REPLICA_PORT"; then
    die "port $REPLICA_PORT is in use by something else than the replica in $REPLICA_DIR (REPLICA_PORT=...)"
  fi
  log "starting the replica on port $REPLICA_PORT (log $REPLICA_LOG)"
  as_root mkdir -p "$(dirname "$REPLICA_LOG")"
  as_root touch "$REPLICA_LOG"
  as_root chown postgres:postgres "$REPLICA_LOG"
  pg_ctl_replica start -w -t "$REPLICA_WAIT_S" -l "$REPLICA_LOG" >/dev/null ||
    die "the replica did not start (see $REPLICA_LOG)"
}

# Wait until the standby receives WAL from the primary and has replayed what the primary had
# written when we started waiting; print the replay lag.
replica_wait_streaming() {
  local target i state
  target="$(primary_sql 'SELECT pg_current_wal_lsn()')"
  for ((i = 0; i < REPLICA_WAIT_S * 4; i++)); do
    state="$(replica_sql "SELECT (SELECT status FROM pg_stat_wal_receiver) = 'streaming'
                            AND pg_last_wal_replay_lsn() >= '$target'::pg_lsn" 2>/dev/null || true)"
    [[ "$state" == t ]] && { replica_status; return 0; }
    sleep 0.25
  done
  die "the replica on port $REPLICA_PORT is not streaming after ${REPLICA_WAIT_S}s (see $REPLICA_LOG)"
}

replica_status() {
  if ! replica_running; then
    note "replica: not running ($REPLICA_DIR)"
    return 1
  fi
  note "replica: port $REPLICA_PORT, $(replica_sql "SELECT COALESCE((SELECT status FROM pg_stat_wal_receiver), 'not receiving')
       || ', replay ' || round(COALESCE(pg_wal_lsn_diff(pg_last_wal_receive_lsn(),
                                                        pg_last_wal_replay_lsn()), 0))
       || ' bytes behind what it received'")"
  note "DATABASE_REPLICA_URL=$(replica_url)"
}

# The primary's URL with the replica's host and port: same roles, same database names.
replica_url() {
  "$BASE_PYTHON" - "$DATABASE_URL" "$REPLICA_PORT" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
auth = u.netloc.rpartition("@")[0]
netloc = f"{auth}@127.0.0.1:{sys.argv[2]}" if auth else f"127.0.0.1:{sys.argv[2]}"
print(urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment)))
PY
}

main() {
  local command="${1:-start}"
  if [[ "$command" == url ]]; then replica_url; return 0; fi
  is_local_host "$DB_HOST" || die "DATABASE_URL is not on this machine: its replica is yours to run"
  primary_binaries
  case "$command" in
    status) replica_status || exit 3 ;;
    stop)
      if replica_running; then pg_ctl_replica stop -m fast >/dev/null; note "replica stopped"
      else note "replica: not running"; fi ;;
    start)
      # One start at a time on this machine (two `make test` of two clones).
      exec 7>"/tmp/civicmap-replica-$REPLICA_PORT.lock"
      flock -w 1800 7 || die "gave up waiting for /tmp/civicmap-replica-$REPLICA_PORT.lock"
      log "PostgreSQL replica (port $REPLICA_PORT)"
      ensure_replication_allowed
      ensure_wal_bound
      local reason
      reason="$(rebuild_reason)"
      if [[ -n "$reason" ]]; then
        note "$reason"
        replica_build
      fi
      replica_start
      replica_wait_streaming ;;
    *) die "usage: scripts/replica.sh [start|stop|status|url]" ;;
  esac
}

main "$@"
