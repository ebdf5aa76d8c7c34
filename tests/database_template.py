"""One migrated test database per run, which every xdist worker's database is cloned from.

Each worker used to create its test database and run every migration on it (with PostGIS, the
SQL functions and the reference data: over a minute per worker, three at once on two cores).
Now the first worker to take a file lock builds ``<test name>_template`` (migrated, reference
data loaded) and the others wait for it; then each worker's database is created from it
(``CREATE DATABASE ... TEMPLATE``, Django's ``TEST["TEMPLATE"]``), a copy of its files, and
Django's own ``migrate`` on it finds nothing left to do. The template is built afresh by each
run (the lock file names the run), so it always holds this checkout's migrations.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.core.management import call_command
from django.db import connections


def database_template_build(*, alias: str, template: str, prepare: Callable[[], None]) -> None:
    """Create ``template`` afresh, migrate it and run ``prepare`` in it (say, load data)."""
    connection = connections[alias]
    quoted = connection.ops.quote_name(template)
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {quoted}")
    connection.close()
    name = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = template
    try:
        # No system checks: every worker waits for this, and the checks (1.6 s here, most
        # of it importing the URLconf) are run by tests of their own (test_deploy_settings).
        call_command("migrate", database=alias, interactive=False, verbosity=0,
                     run_syncdb=True, skip_checks=True)
        prepare()
    finally:
        # CREATE DATABASE ... TEMPLATE refuses a template anyone is connected to.
        connection.close()
        connection.settings_dict["NAME"] = name


def database_template_use(*, alias: str, run: str, prepare: Callable[[], None]) -> str:
    """Make ``alias``'s test database a clone of this run's template, built here if no other
    worker has yet; returns the template's name."""
    test = connections[alias].settings_dict["TEST"]
    template = f"{test['NAME'].rsplit('_gw', 1)[0]}_template"
    lock_path = Path(tempfile.gettempdir()) / f"civicmap-{template}.lock"
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            lock.seek(0)
            if lock.read() != run:
                database_template_build(alias=alias, template=template, prepare=prepare)
                lock.seek(0)
                lock.truncate()
                lock.write(run)
                lock.flush()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    test["TEMPLATE"] = template
    return template
