"""A check-in's accuracy at most 100 km: a larger one already stored becomes NULL (not known),
then the database refuses any more (docs/DECISIONS.md, "Bounds on what clients send").
"""


from django.conf import settings
from django.db import migrations, models


ACCURACY_MAX_M = 100_000


def vague_accuracy_repair(apps, schema_editor):
    CheckIn = apps.get_model("stations", "CheckIn")
    CheckIn.objects.filter(accuracy_m__gt=ACCURACY_MAX_M).update(accuracy_m=None)


class Migration(migrations.Migration):

    dependencies = [
        ('stations', '0003_station_tokens_and_checkins'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(vague_accuracy_repair, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='checkin',
            constraint=models.CheckConstraint(condition=models.Q(('accuracy_m__isnull', True), ('accuracy_m__lte', 100000), _connector='OR'), name='checkin_accuracy_at_most_100_km'),
        ),
    ]
