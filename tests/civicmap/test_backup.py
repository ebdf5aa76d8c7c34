"""`make backup` and `make restore`: the scripts, run for real with pg_dump and pg_restore.

Reports are created through the intake service in the test database (committed: the dump runs
in another process), scripts/backup.sh dumps it with a media directory, scripts/restore.sh
restores into a new database, and the two databases are compared: the row count of every
table, and an md5 of every report row in id order. The restored database is dropped after.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from issues.models import Report
from issues.services.intake import ChannelRules, ReportInput, report_create
from tests.issues.faults import database_url

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(settings.BASE_DIR)
NO_PHOTOS = ChannelRules(Report.Channel.APP, requires_client_uuid=True, requires_photos=False,
                         max_description=2000)
# md5 of every report row, as text, in id order (the same SQL on both databases).
REPORTS_CHECKSUM = ("SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r.id), '')) "
                    "FROM issues_report r")
TABLES = ("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
          "AND table_type = 'BASE TABLE' ORDER BY table_name")


def _connect(name: str):
    params = connection.settings_dict
    return psycopg2.connect(dbname=name, user=params["USER"], password=params["PASSWORD"],
                            host=params["HOST"] or "127.0.0.1", port=params["PORT"] or 5432)


def _snapshot(name: str) -> tuple[dict[str, int], tuple]:
    with _connect(name) as conn, conn.cursor() as cur:
        cur.execute(TABLES)
        tables = [row[0] for row in cur.fetchall()]
        counts = {}
        for table in tables:
            cur.execute(f'SELECT count(*) FROM "{table}"')  # names from the catalogue
            counts[table] = cur.fetchone()[0]
        cur.execute(REPORTS_CHECKSUM)
        checksum = cur.fetchone()
    conn.close()
    return counts, checksum


def _script(name: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", f"scripts/{name}"], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def _drop(name: str) -> None:
    conn = _connect("postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def test_a_backup_restores_into_a_new_database_with_every_row(reference_data, tmp_path):
    rider = get_user_model().objects.get(username="rider1")
    for number in range(12):  # 12 reports over the service area (lon, lat WGS 84)
        report_create(channel=NO_PHOTOS, reporter=rider, data=ReportInput(
            category_code=("E0101", "E0201", "E0501")[number % 3],
            lon=116.386 + number * 0.001, lat=39.792 + number * 0.0007,
            description=f"备份测试 {number}", client_uuid=uuid.uuid4()))
    media = tmp_path / "media"
    (media / "photos").mkdir(parents=True)
    (media / "photos" / "original.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    live = connection.settings_dict["NAME"]
    restored = f"{live}_restored"[:63]
    _drop(restored)
    try:
        backup = _script("backup.sh", DATABASE_URL=database_url(live), MEDIA_ROOT=str(media),
                         BACKUP_DIR=str(tmp_path / "backups"))
        assert backup.returncode == 0, backup.stderr
        where = Path(backup.stdout.strip())  # the only line on stdout: the backup's path
        assert where.parent == tmp_path / "backups"
        assert sorted(p.name for p in where.iterdir()) == [
            "SHA256SUMS", "database.dump", "media.tar.gz"]
        assert oct(where.stat().st_mode & 0o777) == "0o700"

        # Never over an existing database (the live one above all) without the flag.
        refused = _script("restore.sh", FILE=str(where), DATABASE_URL=database_url(live),
                          RESTORE_DATABASE=live)
        assert refused.returncode != 0 and "RESTORE_REPLACE=1" in refused.stderr

        restored_media = tmp_path / "restored-media"
        restore = _script("restore.sh", FILE=str(where), DATABASE_URL=database_url(live),
                          RESTORE_DATABASE=restored, RESTORE_MEDIA_ROOT=str(restored_media))
        assert restore.returncode == 0, restore.stdout + restore.stderr
        assert f"restored database: {restored}" in restore.stdout

        live_counts, live_checksum = _snapshot(live)
        copy_counts, copy_checksum = _snapshot(restored)
        assert live_counts["issues_report"] >= 12
        assert copy_counts == live_counts
        assert copy_checksum == live_checksum
        assert (restored_media / "photos" / "original.jpg").read_bytes() == (
            media / "photos" / "original.jpg").read_bytes()
        with _connect(restored) as conn, conn.cursor() as cur:  # PostGIS works in the copy
            cur.execute("SELECT count(*) FROM issues_report WHERE ST_IsValid(location::geometry)")
            assert cur.fetchone()[0] == live_counts["issues_report"]
        conn.close()
    finally:
        _drop(restored)
