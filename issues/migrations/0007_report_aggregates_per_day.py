# Daily roll-ups of the hourly map aggregates (issues.aggregates keeps both).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('civicmap', '0001_subdistrict_community_and_unit_grids'),
        ('issues', '0006_case_location_metric'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReportCellDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('cell_x', models.IntegerField()),
                ('cell_y', models.IntegerField()),
                ('day', models.DateTimeField()),
                ('count', models.PositiveIntegerField(default=0)),
                ('category', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='issues.category')),
            ],
            options={
                'verbose_name': 'report count per cell and day',
                'verbose_name_plural': 'report counts per cell and day',
                'constraints': [models.UniqueConstraint(fields=('day', 'category', 'cell_x', 'cell_y'), name='cell_day_unique')],
            },
        ),
        migrations.CreateModel(
            name='ReportUnitGridDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateTimeField()),
                ('count', models.PositiveIntegerField(default=0)),
                ('category', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='issues.category')),
                ('unit_grid', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='civicmap.unitgrid')),
            ],
            options={
                'verbose_name': 'report count per unit grid and day',
                'verbose_name_plural': 'report counts per unit grid and day',
                'constraints': [models.UniqueConstraint(fields=('day', 'category', 'unit_grid'), name='unit_grid_day_unique')],
            },
        ),
    ]
