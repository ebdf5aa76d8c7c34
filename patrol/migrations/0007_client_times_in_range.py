"""A task's deadlines at most 400 days after its offer: deadlines already further out are
brought in to that day (in SQL: a deadline in year 10000 cannot be read into Python), then the
database refuses any more (docs/DECISIONS.md, "Bounds on what clients send").
"""


import datetime
import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models


DEADLINE_AHEAD_MAX = datetime.timedelta(days=400)


def far_deadlines_repair(apps, schema_editor):
    Task = apps.get_model("patrol", "Task")
    latest = models.F("offered_at") + DEADLINE_AHEAD_MAX
    Task.objects.filter(response_due__gt=latest).update(response_due=latest)
    Task.objects.filter(resolution_due__gt=latest).update(resolution_due=latest)


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0014_client_times_in_range'),
        ('patrol', '0006_task_location_indexes_by_kind'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(far_deadlines_repair, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('response_due__lte', django.db.models.expressions.CombinedExpression(models.F('offered_at'), '+', models.Value(datetime.timedelta(days=400)))), ('resolution_due__lte', django.db.models.expressions.CombinedExpression(models.F('offered_at'), '+', models.Value(datetime.timedelta(days=400))))), name='task_deadlines_within_a_year'),
        ),
    ]
