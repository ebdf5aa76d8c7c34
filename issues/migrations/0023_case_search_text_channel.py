"""The office console's search and channel filter read two columns of the case: the words of
its reports (search_text) and its first report's channel (D-056). pg_trgm for the index that
0024 builds once 0023 has filled the column."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('civicmap', '0002_membership'),
        ('issues', '0022_report_aggregates_by_subdistrict'),
    ]

    operations = [
        TrigramExtension(),
        migrations.AddField(
            model_name='case',
            name='channel',
            field=models.CharField(choices=[('app', 'Rider app'), ('open311', 'Open311')], db_default='app', default='app', max_length=8, verbose_name='channel'),
        ),
        migrations.AddField(
            model_name='case',
            name='search_text',
            field=models.TextField(blank=True, db_default='', default='', verbose_name='words of the reports'),
        ),
    ]
