"""Reads on the real streaming replica (scripts/replica.sh, started by `make test`): public reads
go to the standby, a rider reads their own new report from the primary while replay is paused,
nothing is ever written to the standby, and without a replica everything reads the primary.

The standby replicates the whole local cluster, the test database included; the "replica"
alias mirrors default's test database on it (civicmap/settings/test.py), each xdist worker's
its own. Data must be committed to reach it, so these tests are transactional. Conditions are
awaited by polling.

Replay is one for the whole standby: ``pg_wal_replay_pause()`` stops it for every database, and
the ``standby`` fixture resumes it when a test ends. So a test using the standby holds a file
lock for the standby (``standby_lock``), taken by every process on this machine that runs these
tests (the workers of a parallel run, other clones' runs): no other test resumes replay under a
test that paused it, or waits for a paused standby to catch up.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from civicmap import cache as fail_open
from civicmap import replica
from civicmap.beside import read_beside
from civicmap.replica import read_alias, read_connection, replica_reads
from issues.models import Category
from tests.issues.faults import free_port, wait_for
from tests.issues.helpers import MY_REPORTS_URL, REPORTS_URL, client_for, post_report
from tests.issues.test_open311_support import request_form, rider_token

pytestmark = pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, "replica"])

REPLICA = "replica"
OPEN311_REQUESTS = "/open311/v2/requests.json"
# What a statement that writes or locks rows says (a read never does, "created_at" aside).
WRITES = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|TRUNCATE|CREATE|ALTER|DROP|"
                    r"COPY|NEXTVAL|SETVAL|FOR\s+(NO\s+KEY\s+)?UPDATE|FOR\s+(KEY\s+)?SHARE)\b",
                    re.IGNORECASE)
REPLAY_TIMEOUT_S = 60.0  # the standby replays the whole machine's WAL, other databases' too


def _primary_position() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def _standby_value(sql: str, params: list | None = None):
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _replayed_everything_committed() -> None:
    """Wait until the standby has replayed everything the primary has committed so far."""
    position = _primary_position()
    wait_for(lambda: _standby_value("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                    [position]),
             timeout=REPLAY_TIMEOUT_S, what=f"the standby to replay up to {position}")


def _standby_answers() -> bool:
    try:
        connections[REPLICA].ensure_connection()
    except DatabaseError:
        connections[REPLICA].close()
        return False
    return True


@contextmanager
def standby_lock(params: dict) -> Iterator[None]:
    """This machine's lock on the standby at ``params`` (a file in the temporary directory,
    named by host and port), held until the block ends; waits while another process holds it."""
    path = Path(tempfile.gettempdir()) / f"civicmap-standby-{params['HOST']}-{params['PORT']}.lock"
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


@pytest.fixture
def standby(settings, reference_data, spare_broker, media_root, monkeypatch):
    """Routing on, to the real standby, caught up with the primary; replay resumed afterwards
    whatever happened. A Redis outage another test made does not count here. The standby is
    this test's alone meanwhile (``standby_lock``). Its set-up may take over 20 s: it waits for
    the lock, then for the standby to replay the whole cluster's WAL (every database's, other
    workers' and clones' test databases being created included) up to the primary's position."""
    params = connections[REPLICA].settings_dict
    with standby_lock(params):
        yield from _standby_ready(settings, monkeypatch, params)


def _standby_ready(settings, monkeypatch, params: dict) -> Iterator[None]:
    monkeypatch.setattr(fail_open, "_warner", fail_open._Warner())
    try:
        wait_for(_standby_answers, timeout=REPLAY_TIMEOUT_S,
                 what=f"the standby at {params['HOST']}:{params['PORT']}/{params['NAME']}")
    except AssertionError:
        pytest.fail(f"No PostgreSQL standby with the test database at {params['HOST']}:"
                    f"{params['PORT']}: start it with scripts/replica.sh (make test does).")
    assert _standby_value("SELECT pg_is_in_recovery()") is True
    settings.REPLICA_DATABASE = REPLICA
    settings.REPLICA_MAX_LAG_S = 60  # a busy 2-core machine: lag never decides these tests
    replica._retry_after = float("-inf")
    cache.clear()
    _replayed_everything_committed()
    try:
        yield
    finally:
        if _standby_answers():
            _standby_value("SELECT pg_wal_replay_resume()::text")
        connections[REPLICA].close()


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@contextmanager
def statements(alias: str) -> Iterator[list[str]]:
    """Every SQL statement run on ``alias``'s connection inside the block."""
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(record):
        yield seen


def _reads_reports(sql: list[str]) -> bool:
    return any('"issues_report"' in statement for statement in sql)


def _public_report_ids() -> set[int]:
    response = client_for(None).get(REPORTS_URL, {"page_size": 200})
    assert response.status_code == 200
    return {feature["id"] for feature in json.loads(response.content)["features"]}


def _own_report_ids(client) -> set[int]:
    response = client.get(MY_REPORTS_URL)
    assert response.status_code == 200, response.content
    return {feature["id"] for feature in response.json()["features"]}


def _report_posted(username: str) -> int:
    response = post_report(client_for(username))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_a_public_read_is_served_by_the_standby(standby):
    report_id = _report_posted("rider1")
    _replayed_everything_committed()

    with statements(REPLICA) as on_standby, statements(DEFAULT_DB_ALIAS) as on_primary:
        ids = _public_report_ids()
        response = client_for(None).get(OPEN311_REQUESTS)
    assert report_id in ids
    assert response.status_code == 200
    assert str(report_id) in {item["service_request_id"] for item in response.json()}
    assert _reads_reports(on_standby)
    assert not _reads_reports(on_primary)
    # The connection those reads took is a standby's: in recovery, read-only.
    assert _standby_value("SELECT pg_is_in_recovery()") is True


def _replay_pause() -> None:
    """Everything committed so far replayed, then replay paused (the fixture resumes it)."""
    _replayed_everything_committed()
    _standby_value("SELECT pg_wal_replay_pause()::text")
    wait_for(lambda: _standby_value("SELECT pg_get_wal_replay_pause_state()") == "paused",
             what="replay to pause")


def test_with_replay_paused_a_rider_reads_their_own_report_and_others_do_not_yet(standby):
    earlier = _report_posted("rider2")
    _replay_pause()

    rider = client_for("rider1")
    response = post_report(rider)
    assert response.status_code == 201, response.content
    new = response.json()["id"]

    with statements(REPLICA) as on_standby, statements(DEFAULT_DB_ALIAS) as on_primary:
        own = _own_report_ids(rider)
    assert new in own  # read-your-writes: the rider's list came from the primary
    assert _reads_reports(on_primary) and not _reads_reports(on_standby)

    with statements(REPLICA) as on_standby:
        public = _public_report_ids()
        others_own = _own_report_ids(client_for("rider2"))
    assert _reads_reports(on_standby)
    assert earlier in public and earlier in others_own
    assert new not in public  # the standby has not replayed it yet

    _standby_value("SELECT pg_wal_replay_resume()::text")
    wait_for(lambda: new in _public_report_ids(), timeout=REPLAY_TIMEOUT_S,
             what="the new report to reach the standby")
    # Caught up: the rider's own reads go to the standby again, once its replay has passed the
    # primary's position kept after the rider's write (other databases' writes may follow the
    # report's, and the standby replays them too).
    def own_reads_on_standby() -> bool:
        with statements(REPLICA) as on_standby:
            assert new in _own_report_ids(rider)
        return _reads_reports(on_standby)

    wait_for(own_reads_on_standby, timeout=REPLAY_TIMEOUT_S,
             what="the rider's own reads to return to the standby")


def test_a_replica_behind_the_lag_bound_is_not_read(standby, settings):
    _standby_value("SELECT pg_wal_replay_pause()::text")
    wait_for(lambda: _standby_value("SELECT pg_get_wal_replay_pause_state()") == "paused",
             what="replay to pause")
    new = _report_posted("rider1")
    settings.REPLICA_MAX_LAG_S = 0
    wait_for(lambda: _standby_value("SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()"),
             what="the standby to receive what it does not replay")
    with statements(REPLICA) as on_standby:
        assert new in _public_report_ids()  # read from the primary
    assert not _reads_reports(on_standby)


def test_nothing_is_written_to_the_standby(standby):
    """A journey of writes and routed reads: the standby's connection only ever ran SELECTs;
    a write it was asked for would fail there (read-only), and none is asked for."""
    rider, anonymous = client_for("rider1"), client_for(None)
    with statements(REPLICA) as on_standby:
        _report_posted("rider2")
        _replayed_everything_committed()
        assert rider.get(MY_REPORTS_URL).status_code == 200
        _report_posted("rider1")
        assert rider.get(MY_REPORTS_URL).status_code == 200
        for url in (REPORTS_URL, "/api/v1/cases/", "/api/v1/categories/", "/api/v1/stations/",
                    OPEN311_REQUESTS, "/open311/v2/services.json", "/map/"):
            assert anonymous.get(url).status_code == 200, url
        with replica_reads():
            category = Category.objects.get(code="C0103")
            assert category._state.db == REPLICA
            category.save(update_fields=["name_en"])  # a row read from the standby, saved
    assert on_standby, "nothing was read from the standby"
    assert [statement for statement in on_standby if WRITES.search(statement)] == []
    with pytest.raises(DatabaseError, match="read-only"), connections[REPLICA].cursor() as cur:
        cur.execute("UPDATE issues_category SET name_en = name_en")


def test_an_unreachable_replica_is_skipped(standby):
    params = connections[REPLICA].settings_dict
    port = params["PORT"]
    connections[REPLICA].close()
    params["PORT"] = str(free_port())
    try:
        report = _report_posted("rider1")
        assert report in _public_report_ids()  # from the primary
        assert replica._retry_after > float("-inf")
        with replica_reads():
            assert read_alias() == DEFAULT_DB_ALIAS  # not tried again for REPLICA_RETRY_S
    finally:
        connections[REPLICA].close()
        params["PORT"] = port


def test_while_the_cache_fails_open_reads_go_to_the_primary(standby, monkeypatch):
    monkeypatch.setattr(replica, "cache_failed_within", lambda seconds: True)
    with statements(REPLICA) as on_standby:
        _public_report_ids()
    assert not _reads_reports(on_standby)


def test_inside_a_transaction_on_the_primary_reads_stay_there(standby):
    with transaction.atomic(), replica_reads():
        assert read_alias() == DEFAULT_DB_ALIAS
    with replica_reads():
        assert read_alias() == REPLICA
        with transaction.atomic():
            assert read_alias() == DEFAULT_DB_ALIAS


def _where_read() -> tuple[str, bool]:
    with read_connection().cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        return read_alias(), cursor.fetchone()[0]


def test_a_read_beside_reads_where_its_caller_does(standby):
    """civicmap.beside runs the read in the caller's context: the standby its block chose."""
    with replica_reads():
        assert read_beside(_where_read).result(timeout=30) == (REPLICA, True)
    assert read_beside(_where_read).result(timeout=30) == (DEFAULT_DB_ALIAS, False)


def test_without_a_replica_everything_reads_the_primary(reference_data, settings):
    settings.REPLICA_DATABASE = ""
    with statements(REPLICA) as on_standby:
        with replica_reads():
            assert read_alias() == DEFAULT_DB_ALIAS
        assert client_for(None).get(REPORTS_URL).status_code == 200
        assert client_for("rider1").get(MY_REPORTS_URL).status_code == 200
    assert on_standby == []


def test_the_settings_have_no_replica_unless_configured():
    code = ("from django.conf import settings; import django; django.setup(); "
            "print(sorted(settings.DATABASES), repr(settings.REPLICA_DATABASE))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "civicmap.settings.base", "DJANGO_DEBUG": "1"}
    env.pop("DATABASE_REPLICA_URL", None)
    without = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
    assert without == "['default'] ''"
    env["DATABASE_REPLICA_URL"] = "postgis://root@127.0.0.1:5433/civicmap"
    with_replica = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                  text=True, check=True).stdout.strip()
    assert with_replica == "['default', 'replica'] 'replica'"


def test_a_rider_who_posted_through_open311_with_their_token_reads_it_back(standby):
    """Open311 resolves the rider from ``api_key`` itself (no Django or DRF sign-in): the view
    names the rider, so their next reads, signed in, wait for the replay of that write."""
    _replay_pause()
    answer = client_for(None).post(OPEN311_REQUESTS,
                                   data=request_form(api_key=rider_token("rider1")))
    assert answer.status_code == 200, answer.content  # Open311 answers a POST with 200
    new = int(answer.json()[0]["service_request_id"])

    with statements(REPLICA) as on_standby:
        assert new in _own_report_ids(client_for("rider1"))
        assert new not in _public_report_ids()
    assert _reads_reports(on_standby)  # the public list did read the paused standby
