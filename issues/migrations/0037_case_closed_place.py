"""The map's closed cases per community read from an index of the closed cases alone (D-083).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('civicmap', '0002_membership'),
        ('issues', '0036_case_place_statistics'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('merged_into__isnull', True), ('stage__in', ('closed', 'evaluated'))), fields=['subdistrict', 'last_report_at'], include=('id', 'community_grid', 'category'), name='case_closed_place'),
        ),
    ]
