"""A station may close on the public holidays of the calendar data (stations.hours,
civicmap.holidays); existing stations stay open on them, as before."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('stations', '0007_redemption_composite_keys'),
    ]

    operations = [
        migrations.AddField(
            model_name='station',
            name='closed_on_holidays',
            field=models.BooleanField(default=False, verbose_name='closed on public holidays'),
        ),
    ]
