"""Intake's statements built once (issue 20). The reads: the token with its user and rider, the
answer, the category by code, and the replay and hourly-limit lookups; each must load what the
ORM's query loaded, so that the answer's JSON and the checks stay as they were. The writes
(civicmap.db.row_insert: the report, case, event, photo and task): each must send the ORM's
INSERT with the ORM's values and load what it returns (docs/BENCHMARKS.md §2)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Model, Prefetch
from django.db.models.signals import post_save, pre_save
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.renderers import JSONRenderer

from civicmap.api.authentication import TokenWithRiderAuthentication
from civicmap.db import row_insert, row_update
from civicmap.models import UnitGrid
from issues.api.serializers import ReportFeatureOutput
from issues.models import Case, CaseEvent, Category, Report, ReportPhoto
from issues.selectors import category_by_code, report_answer_get
from patrol.models import Task
from tests.issues.helpers import (
    HUAIFANG,
    OMIT,
    RIDER_NEEDS_CATEGORY,
    XINGONG,
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


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_new_reports_answer_built_from_the_write_is_the_answer_read_back(
        rider, rider2, language):
    """D-082: the answer to a new report, built from what intake wrote, is byte for byte the
    answer read from the database after the commit (and the ORM's): a new case, a case joined,
    a rider's need dispatched on intake (its case's stage moved on), a point in a community but
    no unit grid, several photos and none, another coordinate system."""
    UnitGrid.objects.filter(boundary__covers=Point(*XINGONG, srid=4326)).delete()  # community only
    with translation.override(language):
        answers = [
            post_report(rider, photos=[jpeg(), jpeg(size=(320, 240))]),
            post_report_at(rider2, HUAIFANG, photos=[jpeg()]),
            post_report(rider, category=RIDER_NEEDS_CATEGORY, photos=OMIT),
            post_report_at(rider, XINGONG),
            post_report(rider2, coord_system="gcj02", description="路灯不亮 lamp out"),
        ]
        for answer in answers:
            assert answer.status_code == 201, body(answer)
            report_id = body(answer)["id"]
            assert answer.content == _json(report_answer_get(report_id=report_id))
            assert answer.content == _json(_answer_by_orm(report_id))
    properties = [body(answer)["properties"] for answer in answers]
    assert properties[1]["joined_existing_case"] is True
    assert properties[2]["status"] == "dispatched"
    assert properties[3]["unit_grid"] is None
    assert [photo["status"] for photo in properties[0]["photos"]] == ["pending", "pending"]


def test_a_replayed_report_is_answered_from_the_database(rider):
    first = post_report(rider, client_uuid="6f1d7a52-9c1e-4d7b-8f3a-2b5c4e6d7a81")
    ReportPhoto.objects.filter(report_id=body(first)["id"]).update(status="ready")
    again = post_report(rider, client_uuid="6f1d7a52-9c1e-4d7b-8f3a-2b5c4e6d7a81")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.content == _json(report_answer_get(report_id=body(first)["id"]))
    assert body(again)["properties"]["photos"][0]["status"] == "ready"


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


# --- writes: civicmap.db.row_insert -----------------------------------------------------------

def _sent(action) -> tuple[object, list[tuple[str, tuple]]]:
    """``action()``'s result and the (SQL, parameters) of every statement it sent."""
    statements = []

    def record(execute, sql, params, many, context):
        statements.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        result = action()
    return result, statements


def _without(params: tuple, fields: list, skipped: set[str]) -> tuple:
    """The parameters of the fields not ``skipped``, a JSON value as the object it wraps (its
    adapter compares by identity)."""
    return tuple(getattr(value, "adapted", value)
                 for field, value in zip(fields, params, strict=True)
                 if field.attname not in skipped)


def _written_rows(rider) -> dict[type, Model]:
    """One row of each model intake writes: a rider's need opens a case dispatched to the
    union on intake (a task), with a photo."""
    response = post_report(rider, category=RIDER_NEEDS_CATEGORY, photos=[jpeg()])
    assert response.status_code == 201, body(response)
    report = Report.objects.get(pk=body(response)["id"])
    return {Report: report, Case: report.case, CaseEvent: report.case.events.first(),
            ReportPhoto: report.photos.get(), Task: Task.objects.get(case=report.case)}


@pytest.mark.parametrize("model", [Report, Case, CaseEvent, ReportPhoto, Task],
                         ids=lambda model: model.__name__)
def test_row_insert_sends_the_orm_insert_and_loads_what_it_returns(rider, model):
    written = _written_rows(rider)[model]
    meta = model._meta
    fields = [field for field in meta.local_concrete_fields
              if not field.generated and field is not meta.auto_field]
    values = {field.attname: getattr(written, field.attname) for field in fields}
    # auto_now_add: the time of the call, different in each of the two inserts.
    now_fields = {field.attname for field in fields if getattr(field, "auto_now_add", False)}
    inserted = {}
    for way, insert in (("orm", lambda: model.objects.create(**values)),
                        ("row_insert", lambda: row_insert(instance=model(**values)))):
        # Each in a savepoint rolled back, after the intake's own row is gone (its uniques).
        with transaction.atomic():
            model.objects.filter(pk=written.pk)._raw_delete(connection.alias)
            instance, statements = _sent(insert)
            row = model.objects.filter(pk=instance.pk).values(*values).get()
            transaction.set_rollback(True)
        [(sql, params)] = [statement for statement in statements
                           if statement[0].startswith("INSERT")]
        returned = {field.attname: getattr(instance, field.attname)
                    for field in meta.db_returning_fields if field is not meta.pk}
        inserted[way] = (sql, _without(params, fields, now_fields),
                         {name: value for name, value in row.items() if name not in now_fields},
                         returned, instance._state.adding, instance._state.db)
    assert inserted["row_insert"] == inserted["orm"]
    assert inserted["orm"][1]  # the values were compared, not two empty lists


def test_row_insert_sends_the_save_signals_the_orm_sends(rider):
    written = _written_rows(rider)[CaseEvent]
    values = {"case_id": written.case_id, "action": "noted", "data": {"a": 1}, "at": written.at}
    heard: dict[str, list] = {"orm": [], "row_insert": []}
    for way, insert in (("orm", lambda: CaseEvent.objects.create(**values)),
                        ("row_insert", lambda: row_insert(instance=CaseEvent(**values)))):

        def receiver(signal, sender, instance, way=way, **kwargs):
            heard[way].append((signal is pre_save, sender, instance.pk is None, kwargs))

        pre_save.connect(receiver, sender=CaseEvent)
        post_save.connect(receiver, sender=CaseEvent)
        try:
            insert()
        finally:
            pre_save.disconnect(receiver, sender=CaseEvent)
            post_save.disconnect(receiver, sender=CaseEvent)
    assert heard["row_insert"] == heard["orm"]
    assert [entry[:3] for entry in heard["orm"]] == [(True, CaseEvent, True),
                                                     (False, CaseEvent, False)]


# --- civicmap.db.row_update (D-082) -------------------------------------------------------------

@pytest.mark.parametrize("fields", [["stage"], ["stage", "priority", "updated_at"],
                                    ["location", "category"]], ids=lambda fields: "+".join(fields))
def test_row_update_sends_the_orms_update_and_signals(rider, fields):
    case = _written_rows(rider)[Case]
    other = Category.objects.exclude(pk=case.category_id).first()
    at = timezone.now()
    sent = {}
    for way, update in (("orm", lambda c: c.save(update_fields=fields)),
                        ("row_update", lambda c: row_update(instance=c, fields=fields))):
        heard = []

        def receiver(signal, sender, instance, heard=heard, **kwargs):
            heard.append((signal is pre_save, sender, kwargs))

        with transaction.atomic():
            copy = Case.objects.get(pk=case.pk)
            copy.stage, copy.priority, copy.updated_at = "filed", 1, at
            copy.location, copy.category = Point(116.39, 39.8, srid=4326), other
            pre_save.connect(receiver, sender=Case)
            post_save.connect(receiver, sender=Case)
            try:
                _, statements = _sent(lambda copy=copy, update=update: update(copy))
            finally:
                pre_save.disconnect(receiver, sender=Case)
                post_save.disconnect(receiver, sender=Case)
            row = Case.objects.filter(pk=case.pk).values(
                "stage", "priority", "updated_at", "location", "category_id").get()
            transaction.set_rollback(True)
        sent[way] = (statements, row, heard, copy._state.adding, copy._state.db)
    assert sent["row_update"] == sent["orm"]
    [(sql, _)] = sent["orm"][0]
    assert sql.startswith('UPDATE "issues_case" SET')


def test_row_update_of_a_row_gone_raises_as_save_does(rider):
    case = _written_rows(rider)[Case]
    with transaction.atomic():
        Case.objects.filter(pk=case.pk)._raw_delete(connection.alias)
        for update in (lambda: case.save(update_fields=["stage"]),
                       lambda: row_update(instance=case, fields=["stage"])):
            with pytest.raises(DatabaseError, match="did not affect any rows"):
                with transaction.atomic():
                    update()
        transaction.set_rollback(True)
    with pytest.raises(ValueError, match="do not exist"):
        row_update(instance=case, fields=["no_such_field"])


def test_a_row_refused_by_the_database_spoils_the_transaction_as_a_save_does(rider):
    written = _written_rows(rider)[CaseEvent]
    with transaction.atomic():
        with pytest.raises(IntegrityError):  # action is NOT NULL
            row_insert(instance=CaseEvent(case_id=written.case_id, action=None, at=written.at))
        with pytest.raises(TransactionManagementError):
            CaseEvent.objects.count()


def test_an_unsaved_related_object_is_refused_as_a_save_refuses_it(reference_data):
    for insert in (lambda event: event.save(), lambda event: row_insert(instance=event)):
        with pytest.raises(ValueError, match="unsaved related object 'case'"):
            insert(CaseEvent(case=Case(), action="noted", at=timezone.now()))
