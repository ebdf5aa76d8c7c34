"""The service catalogue: every service in Chinese and English, member benefits as the programme
says (fixtures/services.json)."""

from __future__ import annotations

import json
from pathlib import Path

from django.utils import translation

from stations.catalogue import MEMBER_BENEFITS, service_catalogue
from stations.models import Service

SERVICES_JSON = Path(__file__).resolve().parents[2] / "fixtures" / "services.json"


def test_member_benefits_match_the_programme():
    programme = json.loads(SERVICES_JSON.read_text("utf-8"))
    assert {item["code"] for item in programme} == set(Service.values)
    assert {item["code"] for item in programme if item["member_benefit"]} == set(MEMBER_BENEFITS)


def test_every_service_has_a_chinese_and_an_english_name():
    catalogue = service_catalogue()
    assert [entry["code"] for entry in catalogue] == list(Service.values)
    for entry in catalogue:
        assert entry["name_en"] and entry["name_zh"] != entry["name_en"]
    by_code = {entry["code"]: entry for entry in catalogue}
    assert by_code["photocopy"]["name_en"] == "Free ID photocopies"
    assert by_code["photocopy"]["member_benefit"] is True


def test_the_catalogue_does_not_depend_on_the_active_language():
    with translation.override("en"):
        english = service_catalogue()
    with translation.override("zh-hans"):
        chinese = service_catalogue()
    assert english == chinese
