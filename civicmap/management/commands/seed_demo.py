"""``manage.py seed_demo``: the Nanyuan demo data, deterministic for one --seed and --now."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from civicmap.db import tables_truncate
from fixtures.history import HistoryPlan, history_drafts
from fixtures.seed import reference_data_load, synthetic_riders_ensure
from issues.models import Report, Rider
from issues.services.bulk import reports_bulk_load
from patrol.services.bulk_history import case_histories_bulk_apply  # lifecycle bulk path

# Everything that grows from reports; emptied before a new history is written. RESTART IDENTITY
# so that one seed gives the same ids every time.
HISTORY_TABLES = [
    "issues_reportcellhour", "issues_reportunitgridhour", "issues_caseevent",
    "issues_caseconfirmation", "issues_pointsentry", "patrol_task", "issues_reportphoto",
    "issues_report", "issues_case",
    "patrol_rating", "patrol_notification",  # lifecycle bulk path: ids restart with the history
]
MAX_REPORTS = 5_000_000


def _aware_datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--now must be an ISO 8601 time, e.g. 2026-11-28T12:00+08:00, "
                           f"not {text!r}.") from exc
    if timezone.is_naive(moment):
        raise CommandError("--now needs a timezone offset, e.g. 2026-11-28T12:00+08:00.")
    return moment


def postgis_require() -> None:
    """Stop with one clear line when the database lacks PostGIS (rather than a traceback)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
        if cursor.fetchone() is None:
            raise CommandError(
                f"The database {connection.settings_dict['NAME']!r} has no PostGIS extension: "
                "run `make setup` or CREATE EXTENSION postgis as a superuser."
            )


class Command(BaseCommand):
    help = "Load the Nanyuan demo: geography, catalogue, teams, people, stations and a history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        parser.add_argument("--now", type=str, default=None,
                            help="ISO 8601 time that anchors the history (default: now)")
        parser.add_argument("--reports", type=int, default=2000,
                            help="reports in the synthetic history (default 2000)")
        parser.add_argument("--days", type=int, default=90,
                            help="days of history before --now (default 90)")
        parser.add_argument("--riders", type=int, default=60,
                            help="synthetic riders besides the named demo riders (default 60)")
        parser.add_argument("--keep-history", action="store_true",
                            help="keep an existing history (make run uses this)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        # Lifecycle bulk path (patrol.services.bulk_history): stages, tasks, events, ratings.
        parser.add_argument("--no-lifecycle", action="store_true",
                            help="leave every case new, with no tasks (no lifecycle history)")

    def handle(self, *args, **options) -> None:
        self._check_numbers(options)
        now = _aware_datetime(options["now"]) if options["now"] else timezone.now()
        postgis_require()
        seed = options["seed"]
        counts = reference_data_load(seed=seed)
        self.stdout.write(
            "Reference data: {communities} communities, {unit_grids} unit grids, "
            "{categories} categories, {users} users, {stations} stations.".format(**counts)
        )
        if options["keep_history"] and Report.objects.exists():
            self.stdout.write("History kept (--keep-history).")
            return
        plan = HistoryPlan(seed=seed, now=now, reports=options["reports"], days=options["days"])
        self._history_write(plan, riders=options["riders"], quiet=options["no_progress"],
                            lifecycle=not options["no_lifecycle"])

    def _check_numbers(self, options: dict) -> None:
        if not 0 <= options["reports"] <= MAX_REPORTS:
            raise CommandError(f"--reports must be between 0 and {MAX_REPORTS:,}.")
        if not 1 <= options["days"] <= 3660:
            raise CommandError("--days must be between 1 and 3660.")
        if not 0 <= options["riders"] <= 100_000:
            raise CommandError("--riders must be between 0 and 100,000.")

    def _history_write(self, plan: HistoryPlan, *, riders: int, quiet: bool,
                       lifecycle: bool = True) -> None:
        with transaction.atomic():
            synthetic_riders_ensure(count=riders, seed=plan.seed)
            rider_ids = list(Rider.objects.order_by("user_id").values_list("user_id", flat=True))
            tables_truncate(*HISTORY_TABLES, restart_identity=True)
            bar = tqdm(total=plan.reports * 2, disable=quiet, unit="report", desc="history")
            drafts = history_drafts(plan=plan, rider_ids=rider_ids,
                                    progress=lambda n: bar.update(n - bar.n))
            bar.n = plan.reports
            result = reports_bulk_load(
                drafts=drafts, progress=lambda n: bar.update(plan.reports + n - bar.n)
            )
            bar.update(bar.total - bar.n)
            bar.close()
            # --- lifecycle bulk path: every case's life up to --now, in the same transaction.
            life = None
            if lifecycle:
                bar = tqdm(total=result.cases, disable=quiet, unit="case", desc="lifecycle")
                life = case_histories_bulk_apply(seed=plan.seed, now=plan.now,
                                                 progress=lambda n: bar.update(n - bar.n))
                bar.close()
        self.stdout.write(f"History: {result.reports} reports in {result.cases} cases, "
                          f"up to {plan.now.isoformat()}.")
        if life is not None:
            self.stdout.write(
                "Lifecycle: {open} open cases, {tasks} tasks ({overdue_response} overdue for "
                "response, {overdue_resolution} for resolution), {events} events, {ratings} "
                "ratings; stages {stages}.".format(**life))
