"""The daily report totals keyed by the categories' kind as well (D-084): the rows written
before have no kind and are counted again by the next migration."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0037_case_closed_place'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='reportcelldaytotal',
            name='cell_day_total_unique',
        ),
        migrations.RemoveConstraint(
            model_name='reportunitgriddaytotal',
            name='grid_day_total_unique',
        ),
        migrations.AddField(
            model_name='reportcelldaytotal',
            name='kind',
            field=models.CharField(default='', max_length=1),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='reportunitgriddaytotal',
            name='kind',
            field=models.CharField(default='', max_length=1),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name='reportcelldaytotal',
            constraint=models.UniqueConstraint(fields=('day', 'cell_x', 'cell_y', 'subdistrict', 'is_private', 'kind'), name='cell_day_total_unique'),
        ),
        migrations.AddConstraint(
            model_name='reportunitgriddaytotal',
            constraint=models.UniqueConstraint(fields=('day', 'community', 'unit_grid', 'is_private', 'kind'), name='grid_day_total_unique', nulls_distinct=False),
        ),
    ]
