"""Shared test set-up: a real PostGIS test database holding the Nanyuan reference data.

The reference data (geography, catalogue, teams, people, stations) is loaded once per session
through the same loader as ``seed_demo``; tests that need a live server use transactional
databases, which are emptied afterwards, so ``reference_data`` reloads it when missing.
"""

from __future__ import annotations

import pytest

from civicmap.models import Subdistrict
from fixtures.seed import reference_data_load

TEST_SEED = 7


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        reference_data_load(seed=TEST_SEED)


@pytest.fixture
def reference_data(db) -> None:
    """The Nanyuan reference data, present for both ordinary and transactional tests."""
    if not Subdistrict.objects.exists():
        reference_data_load(seed=TEST_SEED)
