"""PostgreSQL learns that a case's community decides its subdistrict (extended statistics).

A queue filtered by both multiplied their selectivities as if independent: with the neighbours
loaded it expected a third of a community's new cases, ANDed two indexes and sorted instead of
walking case_queue_community (benchmark 7: queue by community 4.1 → 5.3 ms at 1,000,000 reports).
The statistics are gathered by the next ANALYZE (autovacuum's, or the benchmark template's).
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("issues", "0035_map_reads_index_only"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE STATISTICS case_place (dependencies) "
            "ON subdistrict_id, community_grid_id FROM issues_case",
            "DROP STATISTICS case_place",
        ),
    ]
