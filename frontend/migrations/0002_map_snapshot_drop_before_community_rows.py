"""Snapshots written before issues 0013 count no community report outside the unit grids and
hold a unit-grid field the layers no longer have: drop them. Until the next refresh (five
minutes, or ``manage.py map_snapshot_refresh``) the map computes its layers live."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("frontend", "0001_map_snapshot"),
        ("issues", "0013_grid_counts_by_community"),
    ]

    operations = [
        migrations.RunSQL("DELETE FROM frontend_mapsnapshot", reverse_sql=migrations.RunSQL.noop),
    ]
