# Fill the daily roll-ups from the hourly aggregates already stored (data only; the schema is
# 0007). From now on issues.aggregates keeps both in intake's transaction.

from django.db import migrations

FILL_CELLS = """
    INSERT INTO issues_reportcellday (cell_x, cell_y, day, category_id, count)
    SELECT cell_x, cell_y, date_trunc('day', hour, 'UTC'), category_id, sum(count)
    FROM issues_reportcellhour GROUP BY 1, 2, 3, 4
"""
FILL_UNITS = """
    INSERT INTO issues_reportunitgridday (unit_grid_id, day, category_id, count)
    SELECT unit_grid_id, date_trunc('day', hour, 'UTC'), category_id, sum(count)
    FROM issues_reportunitgridhour GROUP BY 1, 2, 3
"""
EMPTY = "TRUNCATE issues_reportcellday, issues_reportunitgridday"


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0007_report_aggregates_per_day'),
    ]

    operations = [
        migrations.RunSQL([FILL_CELLS, FILL_UNITS], reverse_sql=EMPTY),
    ]
