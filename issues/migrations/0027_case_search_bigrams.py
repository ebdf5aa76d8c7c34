"""The console's 2-character search (D-056): every 2-character piece of a case's search text in
a generated array with a GIN index, since a 2-character word (井盖, 路灯) has no trigram and
the trigram index of 0024 cannot answer it (a scan of every open case instead)."""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.db import migrations, models

import issues.models

# IMMUTABLE (lower() is), so that a generated column may call it; pieces across a line break or
# a space are left out.
BIGRAMS = r"""
CREATE OR REPLACE FUNCTION issues_text_bigrams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT piece), '{}')
    FROM (SELECT substr(lower(t), i, 2) AS piece
          FROM generate_series(1, char_length(t) - 1) AS i) pieces
    WHERE piece !~ '\s'
$$
"""


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0026_case_console_open'),
    ]

    operations = [
        migrations.RunSQL(BIGRAMS, "DROP FUNCTION IF EXISTS issues_text_bigrams(text)"),
        migrations.AddField(
            model_name='case',
            name='search_bigrams',
            field=models.GeneratedField(db_persist=True, expression=issues.models.TextBigrams('search_text'), output_field=django.contrib.postgres.fields.ArrayField(base_field=models.TextField(), size=None)),
        ),
        migrations.AddIndex(
            model_name='case',
            index=django.contrib.postgres.indexes.GinIndex(condition=models.Q(('merged_into__isnull', True)), fields=['search_bigrams'], name='case_search_bigrams'),
        ),
    ]
