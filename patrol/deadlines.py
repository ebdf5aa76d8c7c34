"""A task's deadlines: the category's, shortened by the case's priority, and the bounds within
which the office may move the resolution deadline when it dispatches (docs/DECISIONS.md D-058).

Pure functions over plain values (a category's amounts and units, a priority, a time): the
lifecycle (``patrol.services.lifecycle.task_offer``), the dispatch options
(``patrol.selectors.dispatch_options``) and the demo history (fixtures) all call them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from civicmap.bounds import DEADLINE_AHEAD_MAX
from issues.models import Category, Priority, priority_for_urgency
from patrol.calendar import work_calendar
from patrol.workdays import WorkCalendar, deadline_add

# The share of the category's time a case gets at each priority. The category's deadlines are
# written for a case of its own urgency (issues.models.priority_for_urgency): a case raised
# above that gets the ratio of the two shares, one lowered below it keeps the category's time.
PRIORITY_SHARE = {Priority.URGENT: 0.5, Priority.HIGH: 0.75, Priority.NORMAL: 1.0}

# The office may set a resolution deadline from DEADLINE_MIN_AHEAD after the dispatch to
# DEADLINE_MAX_FACTOR times the default span (the category's, after priority), and never past
# DEADLINE_AHEAD_MAX (the task table's own CHECK, 400 days).
DEADLINE_MIN_AHEAD = timedelta(hours=1)
DEADLINE_MAX_FACTOR = 3


def priority_factor(*, priority: int, urgency: str) -> float:
    """How much of the category's time a case of ``priority`` gets: its priority's share over
    the share of the priority its category's urgency gives, at most 1 (so a normal category
    raised to urgent gets half its time, an emergency category, urgent already, all of its
    own, and lowering a priority never lengthens a deadline)."""
    base = PRIORITY_SHARE[priority_for_urgency(urgency)]
    return min(1.0, PRIORITY_SHARE[Priority(priority)] / base)


def task_deadline(start: datetime, amount: Decimal, unit: str, *,
                  factor: float = 1.0, calendar: WorkCalendar | None = None) -> datetime:
    """A task's deadline from ``start``: a category's amount in hours or working days, then
    ``factor`` of that span on the clock (a shortened working-day deadline may fall on a rest
    day: an urgent case is worked through it). Working days count on ``calendar``, else the
    built-in years with those the office entered (``patrol.calendar.work_calendar``)."""
    value = int(amount) if unit == Category.DeadlineUnit.WORKING_DAYS else float(amount)
    due = deadline_add(start, value, unit, calendar=calendar or work_calendar())
    if factor >= 1.0:
        return due
    return start + (due - start) * factor


@dataclass(frozen=True)
class Deadlines:
    """The default response and resolution deadlines of a task offered at ``start``."""

    start: datetime
    response_due: datetime
    resolution_due: datetime


def task_deadlines(*, category: Category, priority: int, start: datetime) -> Deadlines:
    """The default deadlines of a task for a case of ``category`` and ``priority`` offered
    at ``start``."""
    factor = priority_factor(priority=priority, urgency=category.urgency)
    calendar = work_calendar()  # read once for both (the entered years are in the shared cache)
    return Deadlines(
        start=start,
        response_due=task_deadline(start, category.response_deadline, category.response_unit,
                                   factor=factor, calendar=calendar),
        resolution_due=task_deadline(start, category.resolution_deadline,
                                     category.resolution_unit, factor=factor, calendar=calendar))


@dataclass(frozen=True)
class DeadlineBounds:
    """The earliest and latest resolution deadline the office may give a task."""

    earliest: datetime
    latest: datetime

    def admits(self, moment: datetime) -> bool:
        return self.earliest <= moment <= self.latest


def deadline_bounds(defaults: Deadlines) -> DeadlineBounds:
    """The bounds of the resolution deadline around ``defaults`` (the module's constants)."""
    span = defaults.resolution_due - defaults.start
    latest = min(defaults.start + span * DEADLINE_MAX_FACTOR,
                 defaults.start + DEADLINE_AHEAD_MAX)
    earliest = min(defaults.start + DEADLINE_MIN_AHEAD, defaults.resolution_due)
    return DeadlineBounds(earliest=earliest, latest=max(latest, defaults.resolution_due))
