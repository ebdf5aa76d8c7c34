"""Cases and reports carry their subdistrict (the district issue): filled from their community
grid (or, for a row without one, the subdistrict whose outline covers it), then required."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q

FILL = """
UPDATE {table} t SET subdistrict_id = g.subdistrict_id
  FROM civicmap_communitygrid g WHERE g.id = t.community_grid_id AND t.subdistrict_id IS NULL;
UPDATE {table} t SET subdistrict_id = (
    SELECT s.id FROM civicmap_subdistrict s
    WHERE ST_Covers(s.boundary, t.location::geometry) ORDER BY s.code LIMIT 1)
  WHERE t.subdistrict_id IS NULL;
"""


def _field(related_name: str, null: bool) -> models.ForeignKey:
    return models.ForeignKey(null=null, on_delete=django.db.models.deletion.PROTECT,
                             related_name=related_name, to='civicmap.subdistrict',
                             verbose_name='subdistrict')


class Migration(migrations.Migration):

    dependencies = [
        ('civicmap', '0002_membership'),
        ('issues', '0017_caseevent_task_id_plain'),
    ]

    operations = [
        migrations.AddField(model_name='case', name='subdistrict', field=_field('cases', True)),
        migrations.AddField(model_name='report', name='subdistrict',
                            field=_field('reports', True)),
        migrations.RunSQL(FILL.format(table="issues_case") + FILL.format(table="issues_report"),
                          migrations.RunSQL.noop),
        migrations.AlterField(model_name='case', name='subdistrict',
                              field=_field('cases', False)),
        migrations.AlterField(model_name='report', name='subdistrict',
                              field=_field('reports', False)),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=Q(merged_into__isnull=True),
                               fields=['subdistrict', 'stage', '-last_report_at', '-id'],
                               name='case_queue_subdistrict'),
        ),
    ]
