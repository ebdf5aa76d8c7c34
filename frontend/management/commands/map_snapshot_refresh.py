"""Refresh the governance map's snapshots once, now (what Celery beat does periodically)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from frontend.services import map_snapshot_refresh


class Command(BaseCommand):
    help = ("Compute /map/'s default view for each audience and language and store it, so the "
            "first visitors after a start or a seed get the snapshot instead of a live read.")

    def handle(self, *args, **options) -> None:
        for snapshot in map_snapshot_refresh(now=timezone.now()):
            self.stdout.write(f"map snapshot {snapshot}")
