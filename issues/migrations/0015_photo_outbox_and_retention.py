"""The photo row becomes its own renditions job (an outbox) and records when retention deleted
its original.

Photos left pending by the lost-job bug (issue 14) have queued_at null: the sweep
(issues.services.photos.photos_pending_queue) queues them once this is applied. Schema only.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0014_client_times_in_range'),
    ]

    operations = [
        migrations.AddField(
            model_name='reportphoto',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0, verbose_name='attempts'),
        ),
        migrations.AddField(
            model_name='reportphoto',
            name='original_deleted_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='original deleted'),
        ),
        migrations.AddField(
            model_name='reportphoto',
            name='queued_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='queued'),
        ),
        migrations.AddIndex(
            model_name='reportphoto',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['created_at'], name='photo_pending_created_idx'),
        ),
        migrations.AddIndex(
            model_name='reportphoto',
            index=models.Index(condition=models.Q(('original_deleted_at__isnull', True)), fields=['created_at'], name='photo_original_kept_idx'),
        ),
        migrations.AddConstraint(
            model_name='reportphoto',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('original_deleted_at__isnull', True), models.Q(('original', ''), _negated=True)), models.Q(('original_deleted_at__isnull', False), ('original', '')), _connector='OR'), name='photo_original_kept_or_deleted'),
        ),
    ]
