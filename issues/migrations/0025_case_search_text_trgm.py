"""The trigram index of the console's search (D-056), built after 0023 filled the column."""

import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0024_case_search_text_fill'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='case',
            index=django.contrib.postgres.indexes.GinIndex(condition=models.Q(('merged_into__isnull', True)), fields=['search_text'], name='case_search_text_trgm', opclasses=['gin_trgm_ops']),
        ),
    ]
