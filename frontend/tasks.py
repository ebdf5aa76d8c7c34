"""Periodic jobs of the frontend (Celery beat). Idempotent: safe to run twice or in parallel."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from frontend.services import map_snapshot_refresh


@shared_task
def map_snapshot_refresh_task() -> int:
    """Refresh the governance map's snapshots (every ``MAP_SNAPSHOT_INTERVAL_S`` seconds);
    answers how many were stored."""
    return len(map_snapshot_refresh(now=timezone.now()))
