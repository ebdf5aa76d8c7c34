"""Client-sent times and numbers in range: repair the rows already out of range, then let the
database refuse any more (docs/DECISIONS.md, "Bounds on what clients send").

Repairs, all in SQL (a capture time in year 0 or 10000 cannot even be read into Python):
- a report's capture time outside [2000-01-01T00:00+14:00, received_at + 1 day] becomes NULL,
  "not known": the receipt time stays as it was, and inventing a capture time would be a lie;
- a report's accuracy over 100 km becomes NULL (a position that vague says nothing);
- a category's deadline over a year is cut to a year (8,784 hours or 250 working days), its
  duplicate window to 1 .. 8,784 hours.
The bounds are written out here, not imported: a migration keeps the values of its day.
"""


import datetime
import django.contrib.gis.db.models.fields
import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models


CAPTURED_MIN = datetime.datetime(1999, 12, 31, 10, 0, tzinfo=datetime.timezone.utc)
CAPTURED_AHEAD = datetime.timedelta(days=1)
ACCURACY_MAX_M = 100_000
HOURS_MAX = 8784
WORKING_DAYS_MAX = 250


def out_of_range_rows_repair(apps, schema_editor):
    Report = apps.get_model("issues", "Report")
    Category = apps.get_model("issues", "Category")
    # Updates only: no row is read into Python.
    Report.objects.filter(
        models.Q(captured_at__lt=CAPTURED_MIN)
        | models.Q(captured_at__gt=models.F("received_at") + CAPTURED_AHEAD)
    ).update(captured_at=None)
    Report.objects.filter(accuracy_m__gt=ACCURACY_MAX_M).update(accuracy_m=None)
    for name in ("response", "resolution"):
        for unit, limit in (("hours", HOURS_MAX), ("working_days", WORKING_DAYS_MAX)):
            Category.objects.filter(**{f"{name}_unit": unit, f"{name}_deadline__gt": limit}
                                    ).update(**{f"{name}_deadline": limit})
    Category.objects.filter(merge_window_hours__gt=HOURS_MAX).update(merge_window_hours=HOURS_MAX)
    Category.objects.filter(merge_window_hours__lt=1).update(merge_window_hours=1)


class Migration(migrations.Migration):

    dependencies = [
        ('civicmap', '0001_subdistrict_community_and_unit_grids'),
        ('issues', '0013_grid_counts_by_community'),
        ('patrol', '0006_task_location_indexes_by_kind'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(out_of_range_rows_repair, migrations.RunPython.noop),
        migrations.AddField(
            model_name='caseconfirmation',
            name='distance_m',
            field=models.FloatField(blank=True, null=True, verbose_name='distance (m)'),
        ),
        migrations.AddField(
            model_name='caseconfirmation',
            name='position',
            field=django.contrib.gis.db.models.fields.PointField(blank=True, geography=True, null=True, srid=4326, verbose_name='position'),
        ),
        migrations.AddConstraint(
            model_name='caseconfirmation',
            constraint=models.CheckConstraint(condition=models.Q(('distance_m__isnull', True), ('distance_m__gte', 0), _connector='OR'), name='confirm_distance_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='category',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(models.Q(('response_deadline__lte', 8784), ('response_unit', 'hours')), models.Q(('response_deadline__lte', 250), ('response_unit', 'working_days')), _connector='OR'), models.Q(models.Q(('resolution_deadline__lte', 8784), ('resolution_unit', 'hours')), models.Q(('resolution_deadline__lte', 250), ('resolution_unit', 'working_days')), _connector='OR')), name='category_deadlines_at_most_a_year'),
        ),
        migrations.AddConstraint(
            model_name='category',
            constraint=models.CheckConstraint(condition=models.Q(('merge_window_hours__gte', 1), ('merge_window_hours__lte', 8784)), name='category_merge_window_at_most_a_year'),
        ),
        migrations.AddConstraint(
            model_name='report',
            constraint=models.CheckConstraint(condition=models.Q(('accuracy_m__isnull', True), ('accuracy_m__lte', 100000), _connector='OR'), name='report_accuracy_at_most_100_km'),
        ),
        migrations.AddConstraint(
            model_name='report',
            constraint=models.CheckConstraint(condition=models.Q(('captured_at__isnull', True), models.Q(('captured_at__gte', datetime.datetime(1999, 12, 31, 10, 0, tzinfo=datetime.timezone.utc)), ('captured_at__lte', django.db.models.expressions.CombinedExpression(models.F('received_at'), '+', models.Value(datetime.timedelta(days=1))))), _connector='OR'), name='report_captured_at_in_range'),
        ),
    ]
