"""The report totals by week (D-093), summed from the daily totals; intake keeps them from then
on. Written here, not imported, as the state of this migration."""

import django.db.models.deletion
from django.db import migrations, models

FILL = """
INSERT INTO issues_reportcellweektotal (cell_x, cell_y, week, subdistrict_id, is_private, kind,
                                        count)
SELECT cell_x, cell_y, date_trunc('week', day, 'UTC'), subdistrict_id, is_private, kind,
       sum(count)
FROM issues_reportcelldaytotal GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO issues_reportunitgridweektotal (community_id, unit_grid_id, week, subdistrict_id,
                                            is_private, kind, count)
SELECT community_id, unit_grid_id, date_trunc('week', day, 'UTC'), subdistrict_id, is_private,
       kind, sum(count)
FROM issues_reportunitgriddaytotal GROUP BY 1, 2, 3, 4, 5, 6;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('civicmap', '0002_membership'),
        ('issues', '0040_case_merge_lock_per_subdistrict'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReportCellWeekTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('cell_x', models.IntegerField()),
                ('cell_y', models.IntegerField()),
                ('count', models.PositiveIntegerField(default=0)),
                ('is_private', models.BooleanField()),
                ('kind', models.CharField(max_length=1)),
                ('week', models.DateTimeField()),
                ('subdistrict', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='civicmap.subdistrict')),
            ],
            options={
                'verbose_name': 'report count per cell and week, all categories',
                'verbose_name_plural': 'report counts per cell and week, all categories',
                'indexes': [models.Index(fields=['subdistrict', 'week'], name='cell_week_total_subdistrict')],
                'constraints': [models.UniqueConstraint(fields=('week', 'cell_x', 'cell_y', 'subdistrict', 'is_private', 'kind'), name='cell_week_total_unique'), models.CheckConstraint(condition=models.Q(('week', models.Func(models.Value('week'), models.F('week'), models.Value('UTC'), function='date_trunc', output_field=models.DateTimeField()))), name='cell_week_total_monday')],
            },
        ),
        migrations.CreateModel(
            name='ReportUnitGridWeekTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('count', models.PositiveIntegerField(default=0)),
                ('is_private', models.BooleanField()),
                ('kind', models.CharField(max_length=1)),
                ('week', models.DateTimeField()),
                ('community', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='civicmap.communitygrid')),
                ('subdistrict', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='civicmap.subdistrict')),
                ('unit_grid', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='civicmap.unitgrid')),
            ],
            options={
                'verbose_name': 'report count per unit grid and week, all categories',
                'verbose_name_plural': 'report counts per unit grid and week, all categories',
                'indexes': [models.Index(fields=['subdistrict', 'week'], name='grid_week_total_subdistrict')],
                'constraints': [models.UniqueConstraint(fields=('week', 'community', 'unit_grid', 'is_private', 'kind'), name='grid_week_total_unique', nulls_distinct=False), models.CheckConstraint(condition=models.Q(('week', models.Func(models.Value('week'), models.F('week'), models.Value('UTC'), function='date_trunc', output_field=models.DateTimeField()))), name='grid_week_total_monday')],
            },
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
