#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into a NEW database (and its media into a new
# directory), leaving the live database and var/media alone:
#   make restore FILE=var/backups/20261205T120000Z
#
# Environment:
#   DATABASE_URL         the live database (its server is where the restore goes)
#   RESTORE_DATABASE     the database to create (default civicmap_restore_<UTC timestamp>);
#                        it must not exist yet
#   RESTORE_REPLACE=1    drop RESTORE_DATABASE first when it exists: the only way to restore
#                        over the live database (stop the web server, worker and beat first)
#   RESTORE_MEDIA_ROOT   where media.tar.gz is unpacked (default var/restored/<database>/media)
# Prints the restored database's name and media directory; point DATABASE_URL and MEDIA_ROOT
# at them to run the platform on the restored copy.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

psql_admin() {
  psql --no-psqlrc --quiet --tuples-only --no-align -v ON_ERROR_STOP=1 "$ADMIN_URL" "$@"
}

main() {
  local backup="${FILE:-${1:-}}"
  [[ -n "$backup" ]] || die "say which backup: make restore FILE=var/backups/<timestamp>"
  [[ -d "$backup" ]] || die "$backup is not a backup directory (scripts/backup.sh makes one)"
  [[ -f "$backup/database.dump" ]] || die "$backup has no database.dump"
  have pg_restore || die "pg_restore not found (install postgresql-client-15)"
  (cd "$backup" && sha256sum --quiet --check SHA256SUMS) ||
    die "$backup does not match its SHA256SUMS: damaged or incomplete"

  parse_url LIVE "$DATABASE_URL"
  local target="${RESTORE_DATABASE:-civicmap_restore_$(date -u +%Y%m%d%H%M%S)}"
  [[ "$target" =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] ||
    die "RESTORE_DATABASE must be a plain name (letters, digits, _), not '$target'"
  ADMIN_URL="$(pg_url "$DATABASE_URL" postgres)"
  local target_url media
  target_url="$(pg_url "$DATABASE_URL" "$target")"
  media="${RESTORE_MEDIA_ROOT:-$VAR_DIR/restored/$target/media}"

  local exists
  exists="$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$target'")"
  if [[ -n "$exists" ]]; then
    # shellcheck disable=SC2154  # LIVE_DB comes from parse_url
    local what="database $target exists"
    [[ "$target" == "$LIVE_DB" ]] && what="$target is the live database (DATABASE_URL)"
    [[ "${RESTORE_REPLACE:-0}" == 1 ]] ||
      die "$what; restore into a new one (RESTORE_DATABASE=...) or set RESTORE_REPLACE=1 to drop and replace it"
    log "dropping $target (RESTORE_REPLACE=1)"
    psql_admin -c "DROP DATABASE \"$target\" WITH (FORCE)"
  fi

  log "creating database $target"
  psql_admin -c "CREATE DATABASE \"$target\""
  # PostGIS first, so that the dump's CREATE EXTENSION IF NOT EXISTS finds it and the geometry
  # types exist before any table that uses them.
  psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 "$target_url" \
    -c "CREATE EXTENSION IF NOT EXISTS postgis"
  log "pg_restore $backup/database.dump → $target"
  # pg_restore runs the dump with an empty search_path; PostGIS's operators live in public, so
  # a trigger whose WHEN compares geometries (issues_case_location_to_tasks: OLD.location IS
  # DISTINCT FROM NEW.location) fails with "operator is not unique: geometry = geometry". The
  # dump is turned back into SQL and its search_path lines given public, which changes nothing
  # else (every name in the dump is schema-qualified). One transaction: a restore that fails
  # leaves an empty database, not half the tables.
  if ! pg_restore --no-owner --no-privileges --file - "$backup/database.dump" |
      sed "s/^SELECT pg_catalog.set_config('search_path', '', false);\$/SELECT pg_catalog.set_config('search_path', 'public, pg_catalog', false);/" |
      psql --no-psqlrc --quiet --single-transaction -v ON_ERROR_STOP=1 --output /dev/null \
        "$target_url"; then
    die "restore failed; $target is left empty (drop it: dropdb $target)"
  fi

  if [[ -f "$backup/media.tar.gz" ]]; then
    log "media → $media"
    (umask 077 && mkdir -p "$media")
    tar -xzf "$backup/media.tar.gz" -C "$media"
  fi
  printf 'restored database: %s\nrestored media: %s\n' "$target" "$media"
}

main "$@"
