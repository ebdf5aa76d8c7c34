"""Rows that several tests of one module read, written once for the module.

Seeding a demo takes seconds; tests that only read it (or change it and are rolled back) can
share one. ``module_rows`` opens a transaction for the module's fixture to write in, and rolls
it back after the module's last test; each test (``django_db``, not transactional) runs in a
savepoint of it, so what one test changes the next never sees. A transactional test in such a
module would wait for that transaction's locks: keep those in other modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction


@contextmanager
def module_rows(django_db_blocker) -> Iterator[None]:
    """``with module_rows(django_db_blocker): write...; yield ...`` in a module-scoped fixture
    (which also asks for ``django_db_setup``)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)
