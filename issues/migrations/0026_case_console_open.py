"""The office console's covering index of the open cases (D-056): its total, counts and pages read
the index only."""


from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('civicmap', '0002_membership'),
        ('issues', '0025_case_search_text_trgm'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('merged_into__isnull', True), ('stage__in', ('new', 'filed', 'dispatched', 'in_progress', 'handed_in'))), fields=['subdistrict', '-last_report_at', '-id'], include=('stage', 'category', 'community_grid', 'priority', 'channel', 'report_count', 'created_at'), name='case_console_open'),
        ),
    ]
