"""The governance map's default view, computed by a periodic job (``map_snapshot_refresh``).

In PostgreSQL rather than a process's memory or a local disk: every web server reads the same
rows, and a refresh by any Celery worker is seen by all of them.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class MapAudience(models.TextChoices):
    """Who a map is for. The public sees public categories and no descriptions; office staff
    see every category and the hotspots' newest descriptions. The office's snapshot is never
    served to anyone else (frontend.selectors.map_layers)."""

    PUBLIC = "public", "public"
    OFFICE = "office", "office"


class MapSnapshot(models.Model):
    """The layers of ``/map/`` with its default filters (``settings.MAP_PERIOD_DAYS``, every
    category) for one audience in one language, as computed at ``computed_at``.

    ``layers`` holds ``frontend.selectors.MapLayers`` as JSON (``frontend.codec``): raw values,
    user text included unescaped, exactly what the live selectors return; the page escapes
    them when it renders, whichever path they came by.
    """

    audience = models.CharField(max_length=8, choices=MapAudience.choices)
    language = models.CharField(max_length=16)  # a code of settings.LANGUAGES: names are labelled
    computed_at = models.DateTimeField()  # the moment the layers were read: the page's "as of"
    since = models.DateTimeField()  # the period of reports the layers count: [since, until)
    until = models.DateTimeField()
    layers = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["audience", "language"],
                                    name="map_snapshot_one_per_audience_language"),
            models.CheckConstraint(condition=Q(audience__in=MapAudience.values),
                                   name="map_snapshot_audience_known"),
            models.CheckConstraint(condition=Q(since__lt=F("until")),
                                   name="map_snapshot_period_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.audience} {self.language} {self.computed_at:%Y-%m-%d %H:%M}"
