"""Fixtures of the rider-reporting API tests."""

from __future__ import annotations

import pytest

from tests.issues.helpers import client_for
from tests.issues.test_open311_support import media_host_serving


@pytest.fixture
def media_root(settings, tmp_path):
    """A MEDIA_ROOT of the test's own, so "no new files" is checked against an empty folder."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def rider(reference_data, media_root):
    """rider1's token client."""
    return client_for("rider1")


@pytest.fixture
def rider2(reference_data, media_root):
    return client_for("rider2")


@pytest.fixture
def rider3(reference_data, media_root):
    return client_for("rider3")


@pytest.fixture
def media_host():
    """An Open311 client's media host on 127.0.0.1 (test_open311_support.MediaHost)."""
    with media_host_serving() as server:
        yield server

