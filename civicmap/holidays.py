"""Is a day a public holiday: asked by the apps that must not see patrol's calendar.

The holiday calendar (the built-in years and those the office enters, ``patrol.calendar``) is
patrol's; stations sits beside patrol in the layering and may not import it, yet a station may
close on public holidays (``Station.closed_on_holidays``). So the question is named here, in the
base, and patrol answers it: it registers its provider at start-up, in ``PatrolConfig.ready()``
(as for ``issues.hooks``). Without a provider (patrol not installed) no day is a holiday.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

HolidayProvider = Callable[[date], bool]
_holiday_provider: list[HolidayProvider] = []


def holiday_provider_register(provider: HolidayProvider) -> None:
    """Set the one provider (patrol's); registering again replaces it."""
    _holiday_provider[:] = [provider]


def is_public_holiday(day: date) -> bool:
    """Whether ``day`` (a calendar day in Beijing) is a public holiday in the calendar data."""
    return bool(_holiday_provider) and _holiday_provider[0](day)
