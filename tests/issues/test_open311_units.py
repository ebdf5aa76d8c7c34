"""The Open311 pieces without HTTP: the attribute table against the catalogue, attribute
validation, the XML/JSON writer, service notices, and the list's query count."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import translation
from django.utils.datastructures import MultiValueDict

from issues.models import Category, Report
from issues.open311.definitions import (
    ATTRIBUTES_BY_CATEGORY,
    ATTRIBUTES_BY_GROUP,
    MULTI,
    SINGLE,
    attribute_param_values,
    attributes_validate,
    service_attributes,
)
from issues.open311.formats import json_body, xml_body
from issues.open311.selectors import (
    RequestFilters,
    service_list,
    service_notice,
    service_request_list,
)
from issues.services.intake import OPEN311_CHANNEL, ReportInput, report_create
from patrol.services.lifecycle import case_act
from tests.issues.helpers import project
from tests.issues.test_open311_support import HUAIFANG_GATE, NOISE

pytestmark = pytest.mark.django_db


def test_the_attribute_table_names_public_categories_and_groups(reference_data):
    public = set(Category.objects.filter(is_private=False).values_list("code", flat=True))
    assert set(ATTRIBUTES_BY_CATEGORY) <= public
    groups = set(Category.objects.filter(is_private=False).values_list("group__code", flat=True))
    assert set(ATTRIBUTES_BY_GROUP) <= groups
    every = [a for table in (ATTRIBUTES_BY_GROUP, ATTRIBUTES_BY_CATEGORY)
             for attributes in table.values() for a in attributes]
    assert any(a.datatype == SINGLE for a in every) and any(a.required for a in every)
    for category in Category.objects.filter(is_private=False).select_related("group"):
        codes = [a.code for a in service_attributes(category=category)]
        assert len(codes) == len(set(codes)), category.code


def test_every_emergency_asks_for_a_required_hazard_level(reference_data):
    emergencies = Category.objects.filter(urgency="emergency").select_related("group")
    assert emergencies.exists()
    for category in emergencies:
        hazard = next(a for a in service_attributes(category=category)
                      if a.code == "hazard_level")
        assert (hazard.datatype, hazard.required) == (SINGLE, True)
        assert [value.key for value in hazard.values] == ["low", "medium", "high"]


def test_metadata_is_true_exactly_for_categories_with_attributes(reference_data):
    services = {service["service_code"]: service for service in service_list()}
    private = set(Category.objects.filter(is_private=True).values_list("code", flat=True))
    assert private and not private & set(services)
    for category in Category.objects.filter(is_private=False).select_related("group"):
        assert services[category.code]["metadata"] == bool(service_attributes(category=category))


def _form(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form pairs as the view hands them over: every value of each name."""
    form = MultiValueDict()
    for name, value in pairs:
        form.appendlist(name, value)
    return dict(form.lists())


def test_list_attributes_take_both_bracket_forms_and_keep_the_listed_order(reference_data):
    noise = service_attributes(category=Category.objects.get(code=NOISE))
    posted = attribute_param_values(_form([
        ("attribute[when][]", "weekend"), ("attribute[when][]", "day"),
        ("attribute[when][]", "weekend"), ("attribute[noticed_at]", "2026-06-01 22:30"),
        ("attribute[ignored]", ""), ("service_code", NOISE),
    ]))
    assert posted == {"when": ["weekend", "day", "weekend"], "noticed_at": ["2026-06-01 22:30"]}
    values, errors = attributes_validate(attributes=noise, posted=posted)
    assert errors == []
    # A naive time is Beijing wall time.
    assert values == {"when": ["day", "weekend"], "noticed_at": "2026-06-01T22:30:00+08:00"}
    single_form, _ = attributes_validate(attributes=noise, posted={"when": ["night"]})
    assert single_form == {"when": ["night"]}
    assert [a.datatype for a in noise] == [MULTI, "datetime"]


def test_numbers_are_stored_as_numbers(reference_data):
    lamp = service_attributes(category=Category.objects.get(code="C0103"))
    values, errors = attributes_validate(attributes=lamp, posted={"lamps_out": ["3.0"]})
    assert (values, errors) == ({"lamps_out": 3}, [])
    _, errors = attributes_validate(attributes=lamp, posted={"lamps_out": ["0"]})
    assert [(e.field, e.code) for e in errors] == [("attribute[lamps_out]", "invalid")]
    _, errors = attributes_validate(attributes=lamp, posted={"lamps_out": ["nan"]})
    assert [(e.field, e.code) for e in errors] == [("attribute[lamps_out]", "invalid")]


def test_xml_has_the_declaration_escapes_text_and_leaves_missing_values_empty():
    body = xml_body("service_requests", [{"service_request_id": "7",
                                          "description": "a<b & c>\x0b\x00",
                                          "media_url": None, "metadata": True,
                                          "notes": [{"type": "opened"}]}])
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<service_requests>')
    root = ElementTree.fromstring(body)
    [request] = root.findall("request")
    assert request.findtext("description") == "a<b & c>"
    assert request.find("media_url").text is None
    assert request.findtext("metadata") == "true"
    assert [note.findtext("type") for note in request.find("notes")] == ["opened"]


def test_datetimes_are_written_in_beijing_time_in_both_formats():
    moment = datetime(2026, 6, 1, 0, 30, tzinfo=UTC)
    assert json_body([{"requested_datetime": moment}]) == (
        b'[{"requested_datetime": "2026-06-01T08:30:00+08:00"}]')
    root = ElementTree.fromstring(xml_body("x", {"requested_datetime": moment}))
    assert root.findtext("requested_datetime") == "2026-06-01T08:30:00+08:00"


@pytest.mark.parametrize(("code", "english", "chinese"), [
    ("E0401", "Response within 30 minutes; resolution within 2 hours.",
     "30 分钟内响应；2 小时内解决。"),
    ("C0101", "Response within 2 hours; resolution within 24 hours.",
     "2 小时内响应；24 小时内解决。"),
    ("C0103", "Response within 1 working day; resolution within 7 working days.",
     "1 个工作日内响应；7 个工作日内解决。"),
])
def test_service_notices_give_the_deadlines(reference_data, code, english, chinese):
    category = Category.objects.get(code=code)
    with translation.override("en"):
        assert service_notice(category=category) == english
    with translation.override("zh-hans"):
        assert service_notice(category=category) == chinese


def test_a_page_of_requests_takes_a_fixed_number_of_queries(reference_data,
                                                            django_assert_max_num_queries):
    office = get_user_model().objects.get(username="office1")
    for index in range(12):
        point = project(HUAIFANG_GATE, metres=80 * index, azimuth_deg=90)  # 12 separate cases
        report = report_create(channel=OPEN311_CHANNEL, data=ReportInput(
            category_code="E0101" if index % 2 else "E0401", lon=point[0], lat=point[1],
            attributes={"hazard_level": "low"} if index % 2 == 0 else {})).report
        if index % 2:
            case_act(case_id=report.case_id, action="file", actor=office)
    filters = RequestFilters(start=datetime.now(UTC) - timedelta(days=90), extensions=True)
    # reports (with photo and task subqueries), their tasks, the cases' public history
    with django_assert_max_num_queries(3):
        items = service_request_list(filters=filters, absolute=lambda path: path)
    assert len(items) == Report.objects.count() == 12
    assert all(item["notes"] for item in items)
    dispatched = [item for item in items if item["service_code"] == "E0401"]
    assert all(item["agency_responsible"] and item["expected_datetime"] for item in dispatched)


def test_a_worker_registers_the_media_fetch_job():
    """A fresh process set up as a worker is (Django set up, then Celery's default modules)
    knows the job: it is in issues/tasks.py, which Celery's autodiscovery imports."""
    script = (
        "import django; django.setup()\n"
        "from civicmap.celery import app\n"
        "app.loader.import_default_modules()\n"
        "print(sorted(name for name in app.tasks if not name.startswith('celery.')))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "civicmap.settings.test"}
    done = subprocess.run([sys.executable, "-c", script], cwd=settings.BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "'issues.tasks.open311_media_fetch_task'" in done.stdout, done.stdout
    assert "'issues.tasks.open311_media_pending_queue_task'" in done.stdout, done.stdout
