"""Writes of the frontend: the governance map's snapshot (``MapSnapshot``)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from frontend.codec import dataclass_to_json
from frontend.models import MapSnapshot
from frontend.selectors import (
    MapLayers,
    map_audience,
    map_filters_default,
    map_layers_live,
    map_reads,
)
from issues.layers import MapFilters


def _map_snapshot_save(*, filters: MapFilters, language: str, layers: MapLayers) -> MapSnapshot:
    """Insert or replace the snapshot of ``filters``' audience in ``language``, unless the row
    already holds a newer one. Call inside a transaction."""
    values = {"computed_at": layers.as_of, "since": filters.since, "until": filters.until,
              "layers": dataclass_to_json(layers)}
    # The row is locked (FOR UPDATE) from the read to the write: two refreshes can overlap (a
    # slow run and the next beat, two workers) and the one that started later must win
    # whichever commits last. A concurrent insert of a missing row is settled by the unique
    # constraint (get_or_create reads the winner's row).
    snapshot, created = MapSnapshot.objects.select_for_update().get_or_create(
        audience=map_audience(include_private=filters.include_private), language=language,
        defaults=values)
    if not created and snapshot.computed_at < layers.as_of:
        for name, value in values.items():
            setattr(snapshot, name, value)
        snapshot.save(update_fields=list(values))
    return snapshot


def map_snapshot_refresh(*, now: datetime) -> list[MapSnapshot]:
    """Compute the governance map's default view (``map_filters_default``) at ``now`` for each
    audience (public; office staff with private categories and descriptions) and each language
    of ``settings.LANGUAGES``, and store it for ``frontend.selectors.map_layers`` to serve.

    The same reads as a live request (``map_layers_live``), so a snapshot equals the page
    computed at ``now``. One transaction per snapshot (``map_reads``, as the view's): a
    failure leaves the other snapshots as they were. Idempotent: running it again replaces the
    rows; an older ``now`` never replaces a newer snapshot.
    """
    snapshots = []
    for include_private in (False, True):
        filters = map_filters_default(now=now, include_private=include_private)
        for language, _name in settings.LANGUAGES:
            with map_reads():
                layers = map_layers_live(filters=filters, now=now, language=language)
                snapshots.append(_map_snapshot_save(filters=filters, language=language,
                                                    layers=layers))
    return snapshots
