"""Writes for the departments' catalogue (fixtures/departments.json)."""

from __future__ import annotations

from django.db import transaction

from patrol.models import Department


def department_catalogue_import(*, departments: list[dict]) -> int:
    """Create or update departments by code; return how many were given."""
    with transaction.atomic():
        for item in departments:
            Department.objects.update_or_create(
                code=item["code"],
                defaults={"name_zh": item["name_zh"], "name_en": item["name_en"]},
            )
    return len(departments)
