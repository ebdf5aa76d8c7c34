"""The notifications' content is pure: built from plain objects, no database (no django_db mark:
a query here would fail the test)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from django.utils import translation

from patrol.notifications.content import (
    notification_data,
    notification_message,
    notification_messages,
)

CATEGORY = SimpleNamespace(code="E01", name_zh="路面坑洼", name_en="Pothole")
CASE = SimpleNamespace(pk=7, category=CATEGORY, cancel_reason="重复")
TASK = SimpleNamespace(pk=3, response_due=datetime(2026, 1, 5, 2, 0, tzinfo=UTC),
                       resolution_due=datetime(2026, 1, 9, 10, 0, tzinfo=UTC))
TEAM = {"zh": "一队", "en": "Team One"}


def test_dispatched_data_carries_the_handler_the_category_and_the_deadlines():
    data = notification_data(kind="case_dispatched", case=CASE, task=TASK, handler=TEAM)
    assert data == {
        "case": 7, "category": "E01", "category_name": {"zh": "路面坑洼", "en": "Pothole"},
        "handler": TEAM, "task": 3, "response_due": "2026-01-05T02:00:00+00:00",
        "resolution_due": "2026-01-09T10:00:00+00:00",
    }


def test_closed_data_carries_only_the_facts_given():
    assert "proof_photo" not in notification_data(kind="case_closed", case=CASE)
    data = notification_data(kind="case_closed", case=CASE, note="已修复",
                             proof_photo={"display": "/d/", "thumbnail": "/t/"})
    assert (data["note"], data["proof_photo"], data["proof_photo_thumbnail"]) == (
        "已修复", "/d/", "/t/")


def test_no_case_no_data():
    assert notification_data(kind="case_filed", case=None) == {}


def test_the_message_is_in_the_active_language_from_the_frozen_data():
    data = notification_data(kind="case_dispatched", case=CASE, task=TASK, handler=TEAM)
    with translation.override("en"):
        assert notification_message(kind="case_dispatched", data=data, case_id=7) == (
            "Your report (case #7) has been handed to Team One.")
    texts = notification_messages(kind="case_dispatched", data=data, case_id=7)
    assert set(texts) == {"zh-hans", "en"}
    assert "一队" in texts["zh-hans"] and "Team One" in texts["en"]


def test_a_deadline_near_shows_the_due_time_in_shanghai():
    data = {"deadline": "response", "due": "2026-01-05T02:00:00+00:00"}
    with translation.override("en"):
        text = notification_message(kind="task_deadline_near", data=data, case_id=7)
    assert "2026-01-05 10:00" in text


def test_an_unknown_kind_gets_the_generic_text():
    with translation.override("en"):
        assert notification_message(kind="nope", data={}, case_id=9) == "An update on case #9."


def test_an_urgent_case_names_its_handler_and_deadline_in_both_languages():
    data = notification_data(kind="case_urgent", case=CASE, task=TASK, handler=TEAM)
    assert data["handler"] == TEAM
    texts = notification_messages(kind="case_urgent", data=data, case_id=7)
    assert texts["en"] == ("Urgent: case #7 (Pothole) is with Team One, to be resolved by "
                           "2026-01-09 18:00.")
    assert texts["zh-hans"] == (
        "紧急：案件 #7（路面坑洼）已交一队处置，须于 2026-01-09 18:00 前办结。")
