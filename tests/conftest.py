"""Shared test set-up: a real PostGIS test database holding the Nanyuan reference data.

The reference data (geography, catalogue, teams, people, stations) is loaded once per session
(per xdist worker) through the same loader as ``seed_demo``. An ordinary test's changes are
rolled back; a transactional test's (those that need a live server, a Celery worker, the
replica) are committed, and the database is put back to the session's state after it from a
copy kept in memory (tests/reference_state.py) rather than emptied and reloaded.
"""

from __future__ import annotations

import os

import pytest
from django.test import TransactionTestCase
from django.utils import translation

from civicmap.beside import reads_beside_close
from civicmap.models import Subdistrict
from fixtures.seed import reference_data_load
from tests.database_template import database_template_use
from tests.issues.faults import RedisServer, database_url, spare_broker_used
from tests.reference_state import STATES, reference_state_restore, reference_state_take

TEST_SEED = 7


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language (zh-hans): a request through the test client
    leaves the language LocaleMiddleware chose active in this thread, which would otherwise
    carry an English request's language into the next test's commands and messages."""
    translation.deactivate()
    yield
    translation.deactivate()


def _reference_data_ensure() -> None:
    """Load the reference data unless the database holds it (a clone of the template does)."""
    if not Subdistrict.objects.exists():
        reference_data_load(seed=TEST_SEED)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings, django_db_blocker, request):
    """Under xdist, each worker's test database is a clone of one template the run migrates
    once (tests/database_template.py); not with --reuse-db or --no-migrations."""
    workerinput = getattr(request.config, "workerinput", None)
    if (workerinput is None or request.config.getoption("reuse_db")
            or request.config.getoption("nomigrations")):
        return
    with django_db_blocker.unblock():
        database_template_use(alias="default", run=workerinput["testrunuid"],
                              prepare=_reference_data_ensure)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The migrated test database with the reference data, and a transactional test's teardown
    that puts that state back instead of only emptying the database (``TransactionTestCase``'s
    flush, still used for any other database or option)."""
    with django_db_blocker.unblock():
        _reference_data_ensure()  # a clone of the template holds it already
        STATES[:] = [reference_state_take(alias="default")]
    flush = TransactionTestCase._fixture_teardown

    def teardown(test_case: TransactionTestCase) -> None:
        state = STATES[-1]  # a module's (reference_state_pushed) over the session's
        if (test_case._databases_names(include_mirrors=False) == [state.alias]
                and not test_case.serialized_rollback and test_case.available_apps is None):
            reference_state_restore(state=state)
        else:
            flush(test_case)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TransactionTestCase, "_fixture_teardown", teardown)
        yield
    reads_beside_close()  # its connection would keep the test database from being dropped


@pytest.fixture
def reference_data(db) -> None:
    """The Nanyuan reference data, present for both ordinary and transactional tests (loaded
    here if a test before this one, in this process, left none)."""
    if not Subdistrict.objects.exists():
        reference_data_load(seed=TEST_SEED)


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker process on Redis, reading the test database.

    Its queue is the test settings' own Redis database, emptied first so that no task of an
    earlier run is delivered.
    """
    import subprocess
    import sys
    import time

    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "civicmap.settings.test",
        "DATABASE_URL": database_url(),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "civicmap", "worker", "--pool", "solo",
             "--loglevel", "info", "--without-mingle", "--without-gossip"],
            cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"Celery worker did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    yield process
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def redis_server():
    """A Redis server of the test's own on a free port (tests/issues/faults.py), killed after."""
    server = RedisServer()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def spare_broker():
    """Jobs this test queues wait in a Redis database no worker reads: a test that runs the job
    in-process does not race the session's worker (whose settings differ from the test's)."""
    with spare_broker_used() as url:
        yield url
