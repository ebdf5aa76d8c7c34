"""The office's statistics (/office/stats/, the monthly governance report): counts, the 接诉即办
rates and median times of a period, overall, by community, handler, category or subdistrict,
and by week or month. Read from the daily aggregate (patrol.models.CaseDayFact, kept by
patrol.facts), never from the reports and tasks themselves, so that a year of a whole district
costs about as much as a week (docs/DECISIONS.md D-059, docs/BENCHMARKS.md "Statistics").

What each figure counts, for the local days (Asia/Shanghai) in [since, until):

* ``reports``: reports received;
* ``cases``: cases dispatched, each counted once, on the day its deciding task was offered (the
  task that did the work, else its latest) and under that task's handler;
* ``closed``: of those, the cases closed; ``overdue``: not closed by that task's resolution
  deadline (late, or still open past it), cancelled cases never;
* the rates by patrol.selectors.rates_from_counts (the formulas of ``rates_compute``):
  response = tasks accepted by their response deadline ÷ tasks offered in the period;
  resolution = cases closed by their deadline ÷ ``cases``; satisfaction = ratings of 4 or 5 ÷
  ratings of those cases;
* ``median_response_hours``: offer to acceptance, over the period's accepted tasks;
  ``median_resolution_hours``: deciding offer to closure, over the ``closed`` cases; both read
  from the hours' histograms (``median_from_histogram``): within 2 % of the exact median.

Reports of a case never dispatched have no handler: in ``stats_by(dimension="handler")`` they
are the row "none" (Not dispatched), so that every dimension's rows add up to the summary.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils.translation import gettext as _

from civicmap.i18n import name_field
from civicmap.models import CommunityGrid, Subdistrict
from civicmap.scopes import user_subdistrict_ids
from issues.models import Category
from patrol.facts import case_facts_version
from patrol.models import Department, VolunteerTeam
from patrol.selectors import rates_from_counts
from patrol.sql import COUNTERS, HOURS_BIN_RATIO, STATS_FACT_ROWS

BUCKETS = ("week", "month")
DIMENSIONS = ("community", "handler", "category", "subdistrict")

# The rows each grouping reads (CaseDayFact.dimension) and its expression over a fact row ``f``
# (patrol.sql.STATS_FIGURES): a fixed table, so that no caller's text reaches the SQL.
_KEY_SQL = {
    "total": ("total", "'total'"),
    "community": ("community", "f.community_grid_id"),
    "category": ("category", "f.category_id"),
    "subdistrict": ("total", "f.subdistrict_id"),
    "handler": ("handler", "f.handler_kind || ':' || COALESCE(f.team_id, f.department_id, 0)"),
    "week": ("total", "date_trunc('week', f.day)::date"),
    "month": ("total", "date_trunc('month', f.day)::date"),
}


@dataclass(frozen=True)
class StatsFilters:
    """Which facts: the subdistricts (None: every one, the district's view), the local days
    [since, until) and the trend's bucket ("week", from Monday, or "month")."""

    subdistrict_ids: tuple[int, ...] | None
    since: date
    until: date
    bucket: str


@dataclass(frozen=True)
class StatsRow:
    """One row of figures: the total, a community, handler, category, subdistrict or bucket.
    ``key`` is stable (a code, "team:<code>", an ISO date), ``label`` its name in the active
    language. Rates are 0–1 (four places), times in hours; None where nothing was counted."""

    key: str
    label: str
    reports: int
    cases: int
    closed: int
    overdue: int
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    median_response_hours: float | None
    median_resolution_hours: float | None


def stats_filters_for(*, user, since: date, until: date, bucket: str,
                      subdistrict_id: int | None = None) -> StatsFilters:
    """The filters for what ``user`` may see (civicmap.scopes): an office its subdistrict(s),
    the district role every subdistrict, or the one ``subdistrict_id`` it chose (a subdistrict
    outside the user's scope gives no rows, never another's). Raises ValueError on a bucket
    not in BUCKETS or an empty period."""
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}")
    if until <= since:
        raise ValueError("the period ends before it starts")
    scope = user_subdistrict_ids(user)
    ids: tuple[int, ...] | None = None if scope is None else tuple(sorted(scope))
    if subdistrict_id is not None:
        ids = (subdistrict_id,) if ids is None or subdistrict_id in ids else ()
    return StatsFilters(subdistrict_ids=ids, since=since, until=until, bucket=bucket)


def stats_summary(*, filters: StatsFilters) -> StatsRow:
    """The period's figures in one row (key "total")."""
    rows = _figures(filters, "total")
    return _row("total", _("Total"), rows.get("total"))


def stats_by(*, filters: StatsFilters, dimension: str) -> list[StatsRow]:
    """The period's figures per community, handler, category or subdistrict that has any,
    ordered by label. Raises ValueError on a dimension not in DIMENSIONS."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    figures = _figures(filters, dimension)
    labels = _LABELS[dimension](list(figures))
    rows = [_row(*labels[key], figures[key]) for key in figures]
    return sorted(rows, key=lambda row: (row.label, row.key))


def stats_trend(*, filters: StatsFilters) -> list[StatsRow]:
    """The figures per week (from Monday) or month of the period, every bucket that overlaps
    it (empty ones too, so that a chart's axis has no gaps), oldest first; key is the ISO date
    of the bucket's first day (which may precede ``since``)."""
    figures = _figures(filters, filters.bucket)
    monthly = filters.bucket == "month"
    return [_row(start.isoformat(), start.strftime("%Y-%m") if monthly else start.isoformat(),
                 figures.get(start))
            for start in _bucket_starts(filters.since, filters.until, filters.bucket)]


def bucket_start(day: date, bucket: str) -> date:
    """The first day of the week (Monday) or month holding ``day``."""
    return day.replace(day=1) if bucket == "month" else day - timedelta(days=day.weekday())


def bucket_next(start: date, bucket: str) -> date:
    """The first day of the next week or month."""
    if bucket == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _figures(filters: StatsFilters, key: str) -> dict:
    """Sums and medians per value of the ``key`` expression (_KEY_SQL), by that value; cached
    under the facts' version (patrol.facts), so never older than the facts. The facts change
    only at a recount, and the first visitor after it need not pay for the others."""
    ids = filters.subdistrict_ids
    if settings.STATS_CACHE_S <= 0:  # no cache (the tests' default)
        return _figures_read(ids, filters, key)
    version = case_facts_version(until=filters.until)
    cache_key = (f"stats:{version}:{key}:{filters.since}:{filters.until}:"
                 f"{'all' if ids is None else ','.join(map(str, ids))}")
    figures = cache.get(cache_key)
    if figures is None:
        figures = _figures_read(ids, filters, key)
        cache.set(cache_key, figures, timeout=settings.STATS_CACHE_S)
    return figures


def _figures_read(ids: tuple[int, ...] | None, filters: StatsFilters, key: str) -> dict:
    dimension, expression = _KEY_SQL[key]
    # The trend's buckets each from their own rows (a week row never straddles two buckets).
    pieces = ([(max(start, filters.since), min(bucket_next(start, key), filters.until))
               for start in _bucket_starts(filters.since, filters.until, key)]
              if key in BUCKETS else [(filters.since, filters.until)])
    segments: dict[str, list[date]] = {"day": [], "week": [], "month": []}
    for since, until in pieces:
        for grain, day in period_segments(since=since, until=until):
            segments[grain].append(day)
    with connection.cursor() as cursor:
        cursor.execute(STATS_FACT_ROWS.format(key=expression), {
            "dimension": dimension, "since": filters.since, "until": filters.until,
            "days": segments["day"], "weeks": segments["week"], "months": segments["month"],
            "all_subdistricts": ids is None, "subdistricts": list(ids or ()),
        })
        rows = cursor.fetchall()
    return _figures_add_up(rows)


def _figures_add_up(rows: list[tuple]) -> dict:
    """Per key, the sums of its fact rows (key, the COUNTERS, then the bins and counts of each
    kind of hours) and the medians of their histograms added up. In Python rather than SQL: a
    table's rows hold up to a few hundred thousand (bin, count) pairs, which a list indexed by
    bin adds up several times faster than PostgreSQL unnests, groups and sorts them."""
    sums: dict = {}
    histograms: dict = {}
    width = len(COUNTERS)
    for key, *values in rows:
        total = sums.setdefault(key, [0] * width)
        for index in range(width):
            total[index] += values[index]
        response, resolution = histograms.setdefault(key, ([], []))
        _histogram_add(response, values[width], values[width + 1])
        _histogram_add(resolution, values[width + 2], values[width + 3])
    return {key: {**dict(zip(COUNTERS, total, strict=True)),
                  "median_response_hours": _median(histograms[key][0]),
                  "median_resolution_hours": _median(histograms[key][1])}
            for key, total in sums.items()}


def _histogram_add(histogram: list[int], bins: list[int], counts: list[int]) -> None:
    """Add a row's histogram (bins ascending) to ``histogram``, a count per bin number."""
    if bins and bins[-1] >= len(histogram):
        histogram.extend([0] * (bins[-1] + 1 - len(histogram)))
    for bin_, count in zip(bins, counts, strict=True):
        histogram[bin_] += count


def _median(histogram: list[int]) -> float | None:
    bins = [bin_ for bin_, count in enumerate(histogram) if count]
    return median_from_histogram(bins, [histogram[bin_] for bin_ in bins])


def _bucket_starts(since: date, until: date, bucket: str) -> list[date]:
    starts, start = [], bucket_start(since, bucket)
    while start < until:
        starts.append(start)
        start = bucket_next(start, bucket)
    return starts


def period_segments(*, since: date, until: date) -> list[tuple[str, date]]:
    """The local days [since, until) as the fewest fact rows (CaseDayFact.grain) a greedy walk
    finds: ("month", its 1st) for a whole month, ("week", its Monday) for a whole week that
    does not break a whole month, else ("day", the day)."""
    segments, day = [], since
    while day < until:
        if day.day == 1 and bucket_next(day, "month") <= until:
            segments.append(("month", day))
            day = bucket_next(day, "month")
        elif day.weekday() == 0 and _week_fits(day, until):
            segments.append(("week", day))
            day += timedelta(days=7)
        else:
            segments.append(("day", day))
            day += timedelta(days=1)
    return segments


def _week_fits(monday: date, until: date) -> bool:
    """The week from ``monday`` ends by ``until`` and, when it runs into another month, that
    month would not have been whole anyway."""
    end = monday + timedelta(days=7)
    first = bucket_start(end - timedelta(days=1), "month")
    return end <= until and (first <= monday or bucket_next(first, "month") > until)


def hours_bin_bounds(bin_: int) -> tuple[float, float]:
    """The hours [low, high) of a histogram bin (patrol.sql: bin 0 under a minute, bin b ≥ 1
    from r^(b−1) to r^b minutes)."""
    if bin_ == 0:
        return 0.0, 1 / 60
    return HOURS_BIN_RATIO ** (bin_ - 1) / 60, HOURS_BIN_RATIO ** bin_ / 60


def median_from_histogram(bins: list[int], counts: list[int]) -> float | None:
    """The median of the hours counted in ``bins`` (ascending) as ``percentile_cont(0.5)``
    defines it (the middle value, or the mean of the two middle ones), each value read by
    spreading a bin's count evenly over its width. Each middle value lies in its bin, so the
    result is within one bin's width of the exact median: under 2 % (HOURS_BIN_RATIO), or a
    minute for hours under a minute. None when nothing was counted."""
    if not counts:
        return None
    upto = list(accumulate(counts))

    def value(position: int) -> float:
        index = bisect_left(upto, position)
        low, high = hours_bin_bounds(bins[index])
        before = upto[index] - counts[index]
        return low + (high - low) * (position - before - 0.5) / counts[index]

    total = upto[-1]
    return (value((total + 1) // 2) + value(total // 2 + 1)) / 2


def stats_cache_warm(*, today: date) -> int:
    """Compute the figures of the pages most asked for (this month and the last, trends by week
    and by month: the page's default and the monthly report's month) for every subdistrict and
    the whole
    district, so that the first visitor after a recount reads them from the cache. Returns
    the views warmed."""
    last_month = bucket_start(today, "month") - timedelta(days=1)
    periods = [(bucket_start(today, "month"), today + timedelta(days=1)),
               (bucket_start(last_month, "month"), bucket_start(today, "month"))]
    scopes: list[tuple[int, ...] | None] = [None, *(
        (pk,) for pk in Subdistrict.objects.order_by("pk").values_list("pk", flat=True))]
    for ids in scopes:
        for since, until in periods:
            filters = StatsFilters(subdistrict_ids=ids, since=since, until=until,
                                   bucket="week")
            for key in ("total", "week", "month", "subdistrict", *DIMENSIONS[:3]):
                _figures(filters, key)
    return len(scopes) * len(periods)


def _row(key: str, label: str, figures: dict | None) -> StatsRow:
    counts = {name: int((figures or {}).get(name) or 0) for name in (
        "reports", "dispatched", "accepted_on_time", "cases", "closed", "closed_on_time",
        "overdue", "ratings", "satisfied")}
    rates = rates_from_counts(counts)

    def hours(name: str) -> float | None:
        value = (figures or {}).get(name)
        return None if value is None else round(float(value), 2)

    return StatsRow(
        key=key, label=label, reports=counts["reports"], cases=counts["cases"],
        closed=counts["closed"], overdue=counts["overdue"],
        response_rate=rates["response_rate"], resolution_rate=rates["resolution_rate"],
        satisfaction_rate=rates["satisfaction_rate"],
        median_response_hours=hours("median_response_hours"),
        median_resolution_hours=hours("median_resolution_hours"),
    )


# --- labels: each dimension's ids as (key, label) in the active language ----------------------

def _named(model, ids: list) -> dict:
    name = name_field()
    rows = model.objects.filter(pk__in=[i for i in ids if i is not None]).values_list(
        "pk", "code", name)
    return {pk: (code, label) for pk, code, label in rows}


def _community_labels(ids: list) -> dict:
    labels = _named(CommunityGrid, ids)
    if None in ids:
        labels[None] = ("", _("Outside the community grids"))
    return labels


def _handler_labels(keys: list[str]) -> dict:
    by_kind: dict[str, list[int]] = {}
    for key in keys:
        kind, _sep, pk = key.partition(":")
        by_kind.setdefault(kind, []).append(int(pk))
    teams = _named(VolunteerTeam, by_kind.get("team", []))
    departments = _named(Department, by_kind.get("department", []))
    labels = {}
    for key in keys:
        kind, _sep, pk = key.partition(":")
        if kind == "team":
            code, label = teams[int(pk)]
            labels[key] = (f"team:{code}", label)
        elif kind == "department":
            code, label = departments[int(pk)]
            labels[key] = (f"department:{code}", label)
        elif kind == "union":
            labels[key] = ("union", _("Trade union"))
        else:
            labels[key] = ("none", _("Not dispatched"))
    return labels


_LABELS = {
    "community": _community_labels,
    "category": lambda ids: _named(Category, ids),
    "subdistrict": lambda ids: _named(Subdistrict, ids),
    "handler": _handler_labels,
}

