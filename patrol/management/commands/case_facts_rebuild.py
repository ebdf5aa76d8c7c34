"""Recount the statistics' daily aggregate (patrol.facts): every day, or the last --days."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from patrol.facts import case_facts_rebuild


class Command(BaseCommand):
    help = ("Recount the daily case facts the statistics read (/office/stats/, the governance "
            "report): all days, or the last --days local days. Beat does the recent days every "
            "few minutes and all days daily; run this after a bulk load or a repair.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None,
                            help="only the last N local days, today included (default: all)")

    def handle(self, *args, **options) -> None:
        days = options["days"]
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        since = None if days is None else timezone.localdate() - timedelta(days=days - 1)
        rows = case_facts_rebuild(since=since)
        self.stdout.write(f"case facts: {rows} rows from {since or 'the first day'}")
