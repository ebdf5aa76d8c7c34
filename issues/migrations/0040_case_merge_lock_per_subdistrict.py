"""issues_case_merge_candidate takes its merge lock per category class and subdistrict, not per
class alone: only reports of one subdistrict can meet in a case (0019), so intakes in other
subdistricts need not wait, and the seed forms each group of subdistricts in a session of its
own (fixtures.bulk_reports) without one session waiting for another's commit. Deploys
issues/sql/case_merge_candidate.sql as it reads now."""

from django.db import migrations

from issues.sql import function_sql

# The lock as it was and as it is: going back deploys the file with the old lock.
CLASS_LOCK = "pg_advisory_xact_lock(hashtext('case-merge'), members[1]::integer)"
CLASS_AND_SUBDISTRICT_LOCK = ("pg_advisory_xact_lock(hashtext('case-merge:' || p_subdistrict), "
                              "members[1]::integer)")


def _previous() -> str:
    """The function as 0019 left it: the file with the class lock. Checked by
    tests/issues/test_sql_functions.py, not here: this module is imported by every migrate."""
    return function_sql("case_merge_candidate").replace(CLASS_AND_SUBDISTRICT_LOCK, CLASS_LOCK)


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0039_report_day_totals_by_kind_fill'),
    ]

    operations = [
        migrations.RunSQL(function_sql("case_merge_candidate"), _previous()),
    ]
