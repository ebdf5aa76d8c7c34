"""Writes for the departments' catalogue (fixtures/departments.json)."""

from __future__ import annotations

from django.db import transaction

from civicmap.models import Subdistrict
from patrol.models import Department


def department_catalogue_import(*, departments: list[dict]) -> int:
    """Create or update departments by code; return how many were given.

    An item's ``subdistrict`` (a subdistrict's code) makes it that subdistrict's own department;
    without one it serves the whole district (Department.subdistrict NULL).
    """
    with transaction.atomic():
        for item in departments:
            code = item.get("subdistrict")
            Department.objects.update_or_create(
                code=item["code"],
                defaults={"name_zh": item["name_zh"], "name_en": item["name_en"],
                          "subdistrict": Subdistrict.objects.get(code=code) if code else None},
            )
    return len(departments)
