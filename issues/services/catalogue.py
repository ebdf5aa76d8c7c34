"""Writes for the category catalogue (CJ/T 214 / GB/T 30428 codes plus local extensions)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Model

from issues.aggregates import aggregates_totals_recount
from issues.models import Category, CategoryGroup


def category_catalogue_import(*, data: dict) -> int:
    """Create or update category groups and categories by code, then their equivalences.

    ``data`` has ``groups`` and ``categories`` as in fixtures/categories.json. Departments named
    as handlers must exist (import them first: patrol.services.catalogue). Returns the number
    of categories.
    """
    with transaction.atomic():
        for group in data["groups"]:
            CategoryGroup.objects.update_or_create(
                code=group["code"],
                defaults={"name_zh": group["name_zh"], "name_en": group["name_en"]},
            )
        groups = {group.code: group for group in CategoryGroup.objects.all()}
        # patrol's departments, through the category's relation (issues never imports patrol).
        departments = {department.code: department
                       for department in _department_model().objects.all()}
        private_before = dict(Category.objects.values_list("code", "is_private"))
        categories = {}
        for item in data["categories"]:
            categories[item["code"]] = _category_upsert(item, groups, departments)
        for item in data["categories"]:
            categories[item["code"]].equivalents.set(
                [categories[code] for code in item.get("equivalents", [])]
            )
        if any(private_before.get(code, category.is_private) != category.is_private
               for code, category in categories.items()):
            aggregates_totals_recount()  # the map's totals keep private reports apart
    return len(categories)


def _department_model() -> type[Model]:
    return Category._meta.get_field("handler_department").related_model


def _category_upsert(item: dict, groups: dict, departments: dict) -> Category:
    handler = item["handler"]
    response_amount, response_unit = item["response"]
    resolution_amount, resolution_unit = item["resolution"]
    category, _ = Category.objects.update_or_create(
        code=item["code"],
        defaults={
            "group": groups[item["code"][:3]],
            "name_zh": item["name_zh"],
            "name_en": item["name_en"],
            "icon": item["icon"],
            "urgency": item["urgency"],
            "is_private": item["private"],
            "handler": handler["type"],
            "handler_team_type": handler.get("team_type", ""),
            "handler_department": departments.get(handler.get("department", "")),
            "photo_optional": item["photo_optional"],
            "response_deadline": Decimal(str(response_amount)),
            "response_unit": response_unit,
            "resolution_deadline": Decimal(str(resolution_amount)),
            "resolution_unit": resolution_unit,
            "merge_radius_m": item.get("merge_radius_m", 50),
            "merge_window_hours": item.get("merge_window_hours", 72),
            "auto_dispatch": item.get("auto_dispatch", False),
        },
    )
    return category
