"""The statistics' daily aggregate (patrol.models.CaseDayFact): rebuilt, never edited in place.

Why rebuilt rather than kept in each write (docs/DECISIONS.md D-059): a case's figures change
long after its day (it closes, is rated, becomes overdue while nobody touches it), and the
writes that change them are spread over the lifecycle, intake, merges and transfers. One
statement that recomputes whole days from the source rows cannot drift from them, and the
statistics are monthly figures for which ten minutes' delay is harmless. The week and month
rows are sums of the day rows, recounted after them:

* ``case_facts_refresh`` (Celery beat, every ``STATS_FACTS_REFRESH_S``) recomputes the days from
  ``STATS_FACTS_RECENT_DAYS`` ago to today;
* ``case_facts_rebuild`` (beat, daily; ``manage.py case_facts_rebuild``; the demo seed) all
  days, which catches the late changes of older cases (a closure or a rating months later).

Each recount deletes its days and inserts them again in one transaction, under a transaction
advisory lock so that two runs queue instead of inserting the same rows twice; readers keep
seeing the previous rows until it commits. Then it gives the days it recounted a new version
(``case_facts_version``): patrol.stats caches its figures under it, so a cached figure is never
older than the facts it was read from. Raw SQL because the figures are one GROUP BY over a
UNION of three sources with a DISTINCT ON; its parameters are bound.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from patrol.sql import CASE_FACTS_INSERT, CASE_FACTS_ROLL_UP, CASE_FACTS_ROLL_UP_DELETE

# pg_advisory_xact_lock key of the recount (any constant unique to it)
_LOCK_KEY = 5_901_017
_VERSION_KEY = "case-facts:version"


def case_facts_version(*, until: date) -> str:
    """The version of the facts a period ending before ``until`` reads, renewed after every
    recount that touched one of its days. A full recount says from which day the ten-minute
    recounts will touch (``from``: STATS_FACTS_RECENT_DAYS before its day); those renew only
    the version of periods that reach that day, so earlier periods stay cached until the next
    full recount. A recount reaching further back renews everything, as does a lost record."""
    state = cache.get(_VERSION_KEY)
    if state is None:
        cache.add(_VERSION_KEY, _state_new(None), timeout=None)
        state = cache.get(_VERSION_KEY) or _state_new(None)
    if state["from"] is not None and until <= state["from"]:
        return state["all"]
    return f"{state['all']}.{state['recent']}"


def _state_new(boundary: date | None) -> dict:
    return {"all": uuid.uuid4().hex, "recent": uuid.uuid4().hex, "from": boundary}


def _version_bump(since: date | None = None, boundary: date | None = None) -> None:
    """A recount of the days from ``since`` (None: every day; then ``boundary`` is where the
    recent recounts will start) committed."""
    state = cache.get(_VERSION_KEY)
    if since is None or state is None or state["from"] is None or since < state["from"]:
        state = _state_new(boundary if since is None else None)
    else:
        state = {**state, "recent": uuid.uuid4().hex}
    cache.set(_VERSION_KEY, state, timeout=None)


def case_facts_rebuild(*, since: date | None = None, now: datetime | None = None) -> int:
    """Recount the facts of the local days from ``since`` (all days when None), then the week
    and month rows of every week and month from the ones holding ``since``; returns the rows
    written. ``now`` decides which open cases are overdue (default: the present)."""
    now = now or timezone.now()
    zone = timezone.get_default_timezone()
    start = (datetime.combine(since, time.min, tzinfo=zone) if since is not None
             else datetime(1970, 1, 1, tzinfo=zone))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        cursor.execute("DELETE FROM patrol_casedayfact WHERE grain = 'day' AND day >= %s",
                       [start.date()])
        cursor.execute(CASE_FACTS_INSERT, {"tz": settings.TIME_ZONE, "from_time": start,
                                           "start_day": start.date(), "now": now})
        rows = cursor.rowcount
        for grain in ("week", "month"):  # from the day rows, the old days' ones included
            params = {"grain": grain, "start_day": start.date()}
            cursor.execute(CASE_FACTS_ROLL_UP_DELETE, params)
            cursor.execute(CASE_FACTS_ROLL_UP, params)
            rows += cursor.rowcount
        boundary = timezone.localdate(now) - timedelta(days=settings.STATS_FACTS_RECENT_DAYS)
        transaction.on_commit(lambda: _version_bump(since, boundary))
        return rows


def case_facts_refresh(*, now: datetime | None = None) -> int:
    """Recount the recent days (``STATS_FACTS_RECENT_DAYS`` back from today, local)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    return case_facts_rebuild(since=today - timedelta(days=settings.STATS_FACTS_RECENT_DAYS),
                              now=now)
