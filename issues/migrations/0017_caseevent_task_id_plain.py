"""CaseEvent.task becomes a plain ``task_id`` column in Django's state: the audit trail no longer
points up to patrol. The column and its index stay as they are; patrol's migration 0008 owns the
database's foreign key constraint from it to patrol_task (docs/DECISIONS.md D-047)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0016_report_media_outbox'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name='caseevent', name='task'),
                migrations.AddField(
                    model_name='caseevent',
                    name='task_id',
                    field=models.BigIntegerField(blank=True, db_index=True, null=True,
                                                 verbose_name='task'),
                ),
            ],
            database_operations=[],
        ),
    ]
