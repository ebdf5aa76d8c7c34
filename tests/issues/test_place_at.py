"""GET /api/v1/places/at/: the community and subdistrict a point falls in, by name, for the
rider's form (issue 19: "the place shown by community name")."""

from __future__ import annotations

import pytest

from civicmap import coords
from tests.issues.helpers import CHENGYUAN, HUAIFANG, TIANANMEN, body

pytestmark = pytest.mark.django_db

PLACE_URL = "/api/v1/places/at/"


def _at(client, point, system="wgs84", **headers):
    return client.get(PLACE_URL, {"lon": repr(point[0]), "lat": repr(point[1]),
                                  "coord_system": system}, **headers)


def test_a_point_is_named_by_its_community_and_subdistrict_in_chinese(rider):
    answer = _at(rider, HUAIFANG)
    assert answer.status_code == 200
    assert body(answer) == {"community": {"code": "110106005010", "name": "槐房社区"},
                            "subdistrict": {"code": "110106005", "name": "南苑街道"}}
    assert body(_at(rider, CHENGYUAN))["community"]["code"] == "110106005007"


def test_english_names_and_a_gcj02_point_placed_where_it_is(rider):
    shifted = coords.wgs84_to_gcj02(*HUAIFANG)  # about 500 m off on a WGS 84 map
    answer = _at(rider, shifted, system="gcj02", HTTP_ACCEPT_LANGUAGE="en")
    assert body(answer)["community"] == {"code": "110106005010", "name": "Huaifang Community"}


def test_outside_the_service_area_both_are_null(rider):
    assert body(_at(rider, TIANANMEN)) == {"community": None, "subdistrict": None}


def test_a_bad_point_is_400_naming_the_field(rider):
    answer = rider.get(PLACE_URL, {"lon": "east", "lat": "39.797"})
    assert answer.status_code == 400
    assert [error["field"] for error in body(answer)["errors"]] == ["lon"]
