#!/usr/bin/env bash
# Back up the database and the uploaded media into one new directory:
#   BACKUP_DIR/<UTC timestamp>/database.dump  pg_dump custom format (-Fc): every table, the
#                                             PostGIS extension, sequences, constraints
#   BACKUP_DIR/<UTC timestamp>/media.tar.gz   MEDIA_ROOT (photo originals and renditions)
#   BACKUP_DIR/<UTC timestamp>/SHA256SUMS     checksums of both, checked by restore.sh
# and print the directory's path (the only line on stdout). Restore with
# `make restore FILE=<that path>` (scripts/restore.sh).
#
# Environment: DATABASE_URL (as the app's), MEDIA_ROOT (var/media), BACKUP_DIR (var/backups).
# The backups hold every rider's reports, positions and photos: the directory is mode 0700.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MEDIA_ROOT="${MEDIA_ROOT:-$VAR_DIR/media}"
BACKUP_DIR="${BACKUP_DIR:-$VAR_DIR/backups}"

main() {
  have pg_dump || die "pg_dump not found (install postgresql-client-15)"
  local url stamp out
  url="$(pg_url "$DATABASE_URL")"
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  (umask 077 && mkdir -p "$BACKUP_DIR")
  out="$BACKUP_DIR/$stamp"
  # A second backup in the same second gets its own directory, never half of another's.
  local n=1
  while ! (umask 077 && mkdir "$out") 2>/dev/null; do
    out="$BACKUP_DIR/$stamp-$n"
    n=$((n + 1))
  done

  log "pg_dump → $out/database.dump" >&2
  # One consistent snapshot of the database (pg_dump runs in one repeatable-read transaction).
  pg_dump --format=custom --no-owner --no-privileges --file "$out/database.dump" "$url"

  log "media $MEDIA_ROOT → $out/media.tar.gz" >&2
  if [[ -d "$MEDIA_ROOT" ]]; then
    tar -czf "$out/media.tar.gz" -C "$MEDIA_ROOT" .
  else
    warn "no media directory at $MEDIA_ROOT: the backup has an empty media.tar.gz"
    tar -czf "$out/media.tar.gz" -T /dev/null
  fi

  (cd "$out" && sha256sum database.dump media.tar.gz >SHA256SUMS)
  printf '%s\n' "$out"
}

main "$@"
