"""The fetch of a report's media_url becomes an outbox job recorded on the report (issue 14:
with Redis down at the POST the media was never fetched, and a fetch that failed three times
was forgotten).

Existing rows: a report with a media URL and a photo was fetched; one with a media URL and no
photo is pending, so the sweep (issues.open311.services.open311_media_pending_queue) fetches it.
"""

from django.db import migrations, models

STATE_FILL = """
    UPDATE issues_report r
       SET media_status = CASE WHEN EXISTS (SELECT 1 FROM issues_reportphoto p
                                             WHERE p.report_id = r.id)
                               THEN 'fetched' ELSE 'pending' END
     WHERE r.media_url <> ''
"""


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0015_photo_outbox_and_retention'),
    ]

    operations = [
        migrations.AddField(
            model_name='report',
            name='media_attempts',
            field=models.PositiveSmallIntegerField(db_default=0, default=0, verbose_name='media fetch attempts'),
        ),
        migrations.AddField(
            model_name='report',
            name='media_queued_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='media queued'),
        ),
        migrations.AddField(
            model_name='report',
            name='media_status',
            field=models.CharField(choices=[('none', 'No media URL'), ('pending', 'To fetch'), ('fetched', 'Fetched'), ('refused', 'Refused'), ('failed', 'Failed')], db_default='none', default='none', max_length=8, verbose_name='media status'),
        ),
        # Before the constraint, which the old rows with a media URL would break.
        migrations.RunSQL(STATE_FILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name='report',
            index=models.Index(condition=models.Q(('media_status', 'pending')), fields=['received_at'], name='report_media_pending_idx'),
        ),
        migrations.AddConstraint(
            model_name='report',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('media_url', ''), ('media_status', 'none')), models.Q(models.Q(('media_url', ''), _negated=True), models.Q(('media_status', 'none'), _negated=True)), _connector='OR'), name='report_media_status_follows_url'),
        ),
    ]
