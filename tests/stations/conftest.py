"""Fixtures of the stations tests."""

from __future__ import annotations

import pytest

from civicmap.models import Membership
from stations.models import Station
from tests.stations.helpers import ROLE_USERS, client_for, square_subdistrict_create


@pytest.fixture
def clients(reference_data):
    """An API client per role (demo users' tokens); ``clients["anonymous"]`` sends none."""
    return {role: client_for(username) for role, username in ROLE_USERS.items()}


@pytest.fixture
def square(reference_data):
    """The 1 km test square subdistrict (see helpers.square_subdistrict_create)."""
    return square_subdistrict_create()


@pytest.fixture
def staff_of_square(square):
    """The demo office and union staff work for the test square in this test (their
    Membership), so that its coverage and siting are theirs to read (civicmap.scopes)."""
    Membership.objects.filter(user__username__in=[ROLE_USERS["office_staff"],
                                                  ROLE_USERS["union_staff"]]
                              ).update(subdistrict=square)
    return square


@pytest.fixture
def no_stations(reference_data):
    """No active station anywhere (inside this test's transaction)."""
    Station.objects.update(is_active=False)
