"""Rows that several tests of one module read, written once for the module.

Seeding a demo takes seconds; tests that only read it (or change it and are rolled back) can
share one. ``module_rows`` opens a transaction for the module's fixture to write in, and rolls
it back after the module's last test; each test (``django_db``, not transactional) runs in a
savepoint of it, so what one test changes the next never sees. A transactional test in such a
module would wait for that transaction's locks: keep those in other modules.

Transactional tests share theirs through ``module_rows_committed``: the rows are committed, and
each test is put back to the database's state with them (tests/reference_state.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from django.db import connection, transaction
from django.test import override_settings

from tests.reference_state import reference_state_pushed

Made = TypeVar("Made")


@contextmanager
def module_rows(django_db_blocker, make: Callable[[], Made]) -> Iterator[Made]:
    """``with module_rows(django_db_blocker, make) as made: yield ...`` in a module-scoped
    fixture (which also asks for ``django_db_setup``): ``make()`` writes the rows.

    Their deferred foreign-key checks are run once, here. Each test's teardown runs the
    checks still pending (Django's ``check_constraints``) inside the test's savepoint, and
    rolling that back leaves them pending again: every test re-checked every row the module
    wrote (the demo's 26,000 check-ins, three keys each, cost tests/frontend/test_reports.py 9
    of its 35 s)."""
    with django_db_blocker.unblock(), transaction.atomic():
        made = make()
        connection.check_constraints()
        yield made
        transaction.set_rollback(True)


@contextmanager
def module_rows_committed(django_db_blocker, make: Callable[[], Made], *, media: Path
                          ) -> Iterator[Made]:
    """``with module_rows_committed(django_db_blocker, make, media=...) as made: yield ...`` in a
    module-scoped fixture of transactional tests that only read the rows (and sign in):
    ``make()`` commits them, its files under ``media`` (the tests set MEDIA_ROOT to it), and
    each test is put back to the state with them; after the module, to the state before."""
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
        made = make()
        with reference_state_pushed():
            yield made
