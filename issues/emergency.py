"""Which categories are a danger to life, and which emergency numbers a rider should call
before reporting one.

A report here reaches the office and a volunteer team within half an hour at best
(``Category.response_deadline``); a fire, a gas leak or a crash with injured people needs the
emergency services now. The rider's page shows these numbers as ``tel:`` links above the
report form when such a category is chosen (frontend/PHONE.md, "The report form"); the report
can still be sent, so that the office follows up.

The rule is here, once, keyed by the category's code (fixtures/categories.json): the national
numbers are 110 (police), 119 (fire brigade, also for gas leaks), 120 (ambulance) and 122
(traffic police, for road accidents).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from issues.models import Category

EMERGENCY_NUMBERS = {
    "110": _("Police"),
    "119": _("Fire brigade"),
    "120": _("Ambulance"),
    "122": _("Traffic police"),
}

# Category code -> the numbers to call first, most fitting first.
EMERGENCY_CALLS: dict[str, tuple[str, ...]] = {
    "E0401": ("110",),  # 路面塌陷 road collapse: the police close the road
    "E0405": ("119", "120"),  # 火灾 fire; 120 for anyone hurt
    "E0406": ("122", "110", "120"),  # 交通事故 traffic accident; 120 for anyone hurt
    "E0407": ("119",),  # 燃气泄漏 gas leak: the fire brigade answers leaks
    "L0101": ("120", "110"),  # 独居老人遇困 an elderly person alone in difficulty
}


def category_emergency_numbers(*, category: Category) -> tuple[str, ...]:
    """The emergency numbers to call before reporting this category; empty for most."""
    return EMERGENCY_CALLS.get(category.code, ())
