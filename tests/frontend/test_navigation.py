"""The bar's links follow the reader's roles: the office's sections to office staff, the
union's to union staff and the district's accounts (which read its pages), neither to anyone
else (each page still checks its own access)."""

from __future__ import annotations

import pytest

from tests.patrol.helpers import user

pytestmark = pytest.mark.django_db

OFFICE_LINKS = ('href="/office/"', 'href="/office/stats/"', 'href="/office/reports/"')
UNION_LINKS = ('href="/union/members/"', 'href="/union/council/"', 'href="/union/visits/"',
               'href="/union/awards/"')
BOTH = ('href="/office/geography/"',)


@pytest.mark.parametrize(("username", "office", "union"), [
    ("office1", True, False), ("union1", False, True), ("office_district", True, True),
    ("rider1", False, False),
    (None, False, False)])
def test_the_bar_links_the_readers_sections(reference_data, client, username, office, union):
    if username:
        client.force_login(user(username))
    bar = client.get("/map/").content.decode().split("</nav>")[0]
    assert all((link in bar) is office for link in OFFICE_LINKS)
    assert all((link in bar) is union for link in UNION_LINKS)
    assert all((link in bar) is (office or union) for link in BOTH)
