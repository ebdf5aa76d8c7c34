"""Fill the cases' search_text and channel from their reports (data only; 0022 added the
columns): the distinct descriptions, oldest first, cut at CASE_SEARCH_TEXT_MAX characters (as
issues.sql.case_search_text_sql keeps them from now on), and the first report's channel."""

from django.db import migrations

SEARCH_TEXT_MAX = 2000  # issues.models.CASE_SEARCH_TEXT_MAX when this was written

FILL = f"""
UPDATE issues_case c SET search_text = w.words
FROM (SELECT case_id,
             left(string_agg(description, E'\\n' ORDER BY first_at, description),
                  {SEARCH_TEXT_MAX}) AS words
      FROM (SELECT case_id, description, min(received_at) AS first_at
            FROM issues_report WHERE description <> ''
            GROUP BY case_id, description) d
      GROUP BY case_id) w
WHERE w.case_id = c.id;
UPDATE issues_case c SET channel = f.channel
FROM (SELECT DISTINCT ON (case_id) case_id, channel FROM issues_report
      ORDER BY case_id, received_at, id) f
WHERE f.case_id = c.id AND c.channel <> f.channel;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0023_case_search_text_channel'),
    ]

    operations = [
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
