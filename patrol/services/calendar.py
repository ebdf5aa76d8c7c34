"""The office enters next year's holidays and make-up working days (issue 17)."""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction

from civicmap.errors import InvalidInput
from patrol.calendar import arrangement_check, entered_years_forget
from patrol.models import HolidayArrangement, HolidayArrangementDay


def holiday_arrangement_save(*, year: int, holidays: list[date], makeup_workdays: list[date],
                             source: str, actor, at: datetime) -> HolidayArrangement:
    """Save a year's arrangement, replacing what was entered for it before; refused whole
    (InvalidInput naming each field) when ``arrangement_check`` finds anything. The cached
    calendar is dropped once the transaction commits, so deadlines count on it from then."""
    errors = arrangement_check(year=year, holidays=holidays, makeup_workdays=makeup_workdays)
    if errors:
        raise InvalidInput(*errors)
    with transaction.atomic():
        arrangement, _created = HolidayArrangement.objects.update_or_create(
            year=year, defaults={"source": source, "entered_by": actor, "entered_at": at})
        arrangement.days.all().delete()
        HolidayArrangementDay.objects.bulk_create(
            [HolidayArrangementDay(arrangement=arrangement, day=day,
                                   kind=HolidayArrangementDay.Kind.HOLIDAY)
             for day in sorted(set(holidays))]
            + [HolidayArrangementDay(arrangement=arrangement, day=day,
                                     kind=HolidayArrangementDay.Kind.MAKEUP)
               for day in sorted(set(makeup_workdays))])
        transaction.on_commit(entered_years_forget)
    return arrangement
