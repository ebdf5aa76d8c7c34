"""Bilingual data fields (name_zh / name_en) chosen by the active language."""

from __future__ import annotations

from django.utils.translation import get_language


def name_field(prefix: str = "name") -> str:
    """``name_en`` when the request is in English, else ``name_zh`` (the default language)."""
    language = get_language() or "zh-hans"
    return f"{prefix}_en" if language.startswith("en") else f"{prefix}_zh"
