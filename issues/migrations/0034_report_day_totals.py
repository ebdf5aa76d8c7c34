"""The daily report counts summed over the categories, the public and the private ones apart
(issues.models.ReportCellDayTotal, ReportUnitGridDayTotal), filled from the daily rows."""

import django.db.models.deletion
from django.db import migrations, models


FILL = """
INSERT INTO issues_reportcelldaytotal (cell_x, cell_y, day, subdistrict_id, is_private, count)
SELECT d.cell_x, d.cell_y, d.day, d.subdistrict_id, k.is_private, sum(d.count)
FROM issues_reportcellday d JOIN issues_category k ON k.id = d.category_id
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO issues_reportunitgriddaytotal (community_id, unit_grid_id, day, subdistrict_id,
                                          is_private, count)
SELECT d.community_id, d.unit_grid_id, d.day, d.subdistrict_id, k.is_private, sum(d.count)
FROM issues_reportunitgridday d JOIN issues_category k ON k.id = d.category_id
GROUP BY 1, 2, 3, 4, 5;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('civicmap', '0002_membership'),
        ('issues', '0033_award_decisions'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReportCellDayTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('cell_x', models.IntegerField()),
                ('cell_y', models.IntegerField()),
                ('day', models.DateTimeField()),
                ('is_private', models.BooleanField()),
                ('count', models.PositiveIntegerField(default=0)),
                ('subdistrict', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='civicmap.subdistrict')),
            ],
            options={
                'verbose_name': 'report count per cell and day, all categories',
                'verbose_name_plural': 'report counts per cell and day, all categories',
                'indexes': [models.Index(fields=['subdistrict', 'day'], name='cell_day_total_subdistrict')],
                'constraints': [models.UniqueConstraint(fields=('day', 'cell_x', 'cell_y', 'subdistrict', 'is_private'), name='cell_day_total_unique')],
            },
        ),
        migrations.CreateModel(
            name='ReportUnitGridDayTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateTimeField()),
                ('is_private', models.BooleanField()),
                ('count', models.PositiveIntegerField(default=0)),
                ('community', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='civicmap.communitygrid')),
                ('subdistrict', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='civicmap.subdistrict')),
                ('unit_grid', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='civicmap.unitgrid')),
            ],
            options={
                'verbose_name': 'report count per unit grid and day, all categories',
                'verbose_name_plural': 'report counts per unit grid and day, all categories',
                'indexes': [models.Index(fields=['subdistrict', 'day'], name='grid_day_total_subdistrict')],
                'constraints': [models.UniqueConstraint(fields=('day', 'community', 'unit_grid', 'is_private'), name='grid_day_total_unique', nulls_distinct=False)],
            },
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
