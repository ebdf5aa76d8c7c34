"""One subdistrict's map reads indexes alone, not rows shared with its neighbours: the open
cases' points in case_console_open (the hotspots), a case's reports newest first (their
newest words) in place of the key's own index (D-081).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('civicmap', '0002_membership'),
        ('issues', '0034_report_day_totals'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='case',
            name='case_console_open',
        ),
        migrations.AlterField(
            model_name='report',
            name='case',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='reports', to='issues.case', verbose_name='case'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('merged_into__isnull', True), ('stage__in', ('new', 'filed', 'dispatched', 'in_progress', 'handed_in'))), fields=['subdistrict', '-last_report_at', '-id'], include=('stage', 'category', 'community_grid', 'priority', 'channel', 'report_count', 'created_at', 'location_metric', 'location'), name='case_console_open'),
        ),
        migrations.AddIndex(
            model_name='report',
            index=models.Index(fields=['case', '-received_at', '-id'], name='report_case_newest'),
        ),
    ]
