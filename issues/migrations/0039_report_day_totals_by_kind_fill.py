"""The daily report totals counted again from the daily rows, by privacy and kind (D-084).
Intake keeps them from then on; written here, not imported, as the state of this migration."""

from django.db import migrations

FILL = """
TRUNCATE issues_reportcelldaytotal, issues_reportunitgriddaytotal;
INSERT INTO issues_reportcelldaytotal (cell_x, cell_y, day, subdistrict_id, is_private, kind,
                                       count)
SELECT d.cell_x, d.cell_y, d.day, d.subdistrict_id, k.is_private, left(k.code, 1), sum(d.count)
FROM issues_reportcellday d JOIN issues_category k ON k.id = d.category_id
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO issues_reportunitgriddaytotal (community_id, unit_grid_id, day, subdistrict_id,
                                          is_private, kind, count)
SELECT d.community_id, d.unit_grid_id, d.day, d.subdistrict_id, k.is_private, left(k.code, 1),
       sum(d.count)
FROM issues_reportunitgridday d JOIN issues_category k ON k.id = d.category_id
GROUP BY 1, 2, 3, 4, 5, 6;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0038_report_day_totals_by_kind'),
    ]

    operations = [
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
