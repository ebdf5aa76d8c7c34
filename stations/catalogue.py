"""The service catalogue of the stations, in Chinese and English, with the member benefits.

The codes and their labels are ``stations.models.Service`` (English source, Chinese in the
catalogue of translations); which ones are member benefits unlocked by the 苑苑暖心卡 member card
is the programme's rule, kept here (and checked against fixtures/services.json by a test).
"""

from __future__ import annotations

from functools import lru_cache

from django.utils import translation

from stations.models import Service

# Unlocked by the electronic member card (苑苑暖心卡): tyre repair and maintenance discounts,
# free ID photocopies, haircuts.
MEMBER_BENEFITS = frozenset({Service.TYRE_REPAIR, Service.PHOTOCOPY, Service.HAIRCUT})


def service_catalogue() -> list[dict]:
    """Every service: ``code``, ``name_zh``, ``name_en``, ``member_benefit``, in model order."""
    return [dict(entry) for entry in _catalogue()]


@lru_cache(maxsize=1)  # the labels are fixed for a process; the languages do not change them
def _catalogue() -> tuple[dict, ...]:
    labels = dict(Service.choices)
    with translation.override("zh-hans"):
        names_zh = {code: str(label) for code, label in labels.items()}
    with translation.override("en"):
        names_en = {code: str(label) for code, label in labels.items()}
    return tuple(
        {"code": code, "name_zh": names_zh[code], "name_en": names_en[code],
         "member_benefit": code in MEMBER_BENEFITS}
        for code in labels
    )


def services_describe(codes: list[str]) -> list[dict]:
    """The catalogue entries of ``codes``, in the station's order (unknown codes skipped)."""
    entries = {entry["code"]: entry for entry in _catalogue()}
    return [dict(entries[code]) for code in codes if code in entries]
