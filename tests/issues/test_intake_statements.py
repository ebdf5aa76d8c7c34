"""Intake's reads as statements built once (issue 20): the token with its user and rider, the
answer, the category by code, and the replay and hourly-limit lookups. Each must load what the
ORM's query loaded, so that the answer's JSON and the checks stay as they were
(docs/BENCHMARKS.md §2)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.renderers import JSONRenderer

from civicmap.api.authentication import TokenWithRiderAuthentication
from issues.api.serializers import ReportFeatureOutput
from issues.models import Category, Report, ReportPhoto
from issues.selectors import category_by_code, report_answer_get
from tests.issues.helpers import (
    HUAIFANG,
    OMIT,
    RIDER_NEEDS_CATEGORY,
    body,
    jpeg,
    post_report,
    post_report_at,
)

pytestmark = pytest.mark.django_db


def _answer_by_orm(report_id: int) -> Report:
    """The answer's report as the ORM's select_related and prefetch read it (the way before)."""
    return (Report.objects.select_related("category", "case", "subdistrict", "community_grid",
                                          "unit_grid")
            .prefetch_related(Prefetch("photos", queryset=ReportPhoto.objects.all()))
            .get(pk=report_id))


def _json(report: Report) -> bytes:
    return JSONRenderer().render(ReportFeatureOutput(report).data)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_answer_read_in_one_statement_is_the_orm_answer(rider, rider2, language):
    first = post_report(rider, photos=[jpeg(), jpeg(size=(320, 240))])
    joined = post_report_at(rider2, HUAIFANG, photos=[jpeg()])
    without_photo = post_report(rider, category=RIDER_NEEDS_CATEGORY, photos=OMIT)
    assert first.status_code == joined.status_code == without_photo.status_code == 201
    with translation.override(language):
        for report_id in (body(first)["id"], body(joined)["id"], body(without_photo)["id"]):
            assert _json(report_answer_get(report_id=report_id)) == _json(
                _answer_by_orm(report_id))
    answer = report_answer_get(report_id=body(first)["id"])
    assert [photo.status for photo in answer.photos.all()] == ["pending", "pending"]
    assert body(joined)["properties"]["joined_existing_case"] is True


def test_a_field_the_answer_did_not_read_is_read_when_asked_for(rider):
    response = post_report(rider, accuracy_m="12")
    assert response.status_code == 201, body(response)
    answer = report_answer_get(report_id=body(response)["id"])
    assert answer.accuracy_m == 12  # deferred, as .only() leaves it: read on access
    assert answer.category.merge_radius_m == Category.objects.get(
        code=answer.category.code).merge_radius_m


def test_the_category_by_code_is_the_orm_category_and_never_stale(reference_data):
    fields = Category._meta.concrete_fields
    for category in Category.objects.all():
        read = category_by_code(code=category.code)
        assert [(getattr(read, field.attname), type(getattr(read, field.attname)))
                for field in fields] == [
            (getattr(category, field.attname), type(getattr(category, field.attname)))
            for field in fields]
    assert category_by_code(code="E9999") is None
    Category.objects.filter(code="E0101").update(photo_optional=True)
    assert category_by_code(code="E0101").photo_optional is True


def test_an_unknown_category_is_still_named_with_every_other_bad_field(rider):
    response = post_report(rider, category="E9999", client_uuid=OMIT, lon="x")
    assert response.status_code == 400
    assert {error["field"] for error in body(response)["errors"]} == {
        "category", "client_uuid", "lon"}


def test_the_token_is_read_with_its_user_and_rider_in_one_statement(reference_data):
    auth = TokenWithRiderAuthentication()
    for token in Token.objects.select_related("user__rider"):
        expected_rider = getattr(token.user, "rider", None)
        with CaptureQueriesContext(connection) as queries:
            user, read = auth.authenticate_credentials(token.key)
            rider = getattr(user, "rider", None)  # cached: a staff user's "none" too
        assert len(queries) == 1
        assert (user.pk, user.username, user.is_staff, read.key, read.user is user) == (
            token.user.pk, token.user.username, token.user.is_staff, token.key, True)
        assert (rider and (rider.pk, rider.is_active, rider.user is user)) == (
            expected_rider and (expected_rider.pk, expected_rider.is_active, True))
    with pytest.raises(AuthenticationFailed):
        auth.authenticate_credentials("0" * 40)
    staff = Token.objects.filter(user__rider__isnull=True).first()
    get_user_model().objects.filter(pk=staff.user_id).update(is_active=False)
    with pytest.raises(AuthenticationFailed):
        auth.authenticate_credentials(staff.key)
