"""The ranges every number and time a client can send must fall in, defined once.

The services refuse a value outside them with a 400 naming the field, and the models hold the
same bounds as CHECK constraints, so that no path (an import, the admin, raw SQL) stores a row
that a listing cannot read: Python's datetime holds years 1 to 9999 only, and a capture time
of 0001-01-01T00:00:00+14:00 is year 1 BC once in UTC (docs/DECISIONS.md, "Bounds on what
clients send").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

# 2000-01-01 00:00 in the earliest time zone on Earth (UTC+14), i.e. 1999-12-31 10:00 UTC:
# a capture time on 1 January 2000 is accepted wherever the phone's clock says it is.
CLIENT_TIME_MIN = datetime(2000, 1, 1, tzinfo=timezone(timedelta(hours=14)))
# A phone's clock may run ahead of the server's: a capture time up to a day after receipt.
CLIENT_TIME_AHEAD_MAX = timedelta(days=1)

# The latest moment a query's time filter may name (Open311's start_date and end_date):
# arithmetic on it (a 90-day window) stays inside Python's year 9999.
QUERY_TIME_MAX = datetime(2100, 1, 1, tzinfo=UTC)

# Months a leaderboard or points page can be asked for, first days of the months.
MONTH_MIN = date(2000, 1, 1)
MONTH_MAX = date(2099, 12, 1)

# Paging: far past any real listing, far below bigint once multiplied by the largest page size
# (1,000): an OFFSET past 2**63 - 1 is a database error, not an empty page.
PAGE_MAX = 100_000
OFFSET_MAX = 100_000_000

# A position's accuracy in metres: a phone that knows less than 100 km knows nothing.
ACCURACY_MAX_M = 100_000

# A task's deadlines: at most 400 days after the offer (a category allows 366 days in hours, or
# 250 working days, which with the long holidays can run a few days past a calendar year).
DEADLINE_AHEAD_MAX = timedelta(days=400)
