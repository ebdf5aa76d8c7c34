"""issues_case_merge_candidate takes the report's subdistrict: a report joins or follows only a
case of its own subdistrict (the district issue). The old nine-argument function is dropped and
issues/sql/case_merge_candidate.sql deployed as it reads now (tests/issues/test_sql_functions.py
holds the deployed function equal to the file; a later change to the file comes with its own
migration, which deploys it again)."""

from importlib import import_module

from django.db import migrations

from issues.sql import function_sql

# Back to the function of migration 0011.
PREVIOUS = import_module(
    "issues.migrations.0011_case_merge_candidate_locks_only_the_joined_case").CREATE

OLD_SIGNATURE = ("issues_case_merge_candidate(bigint, double precision, double precision, "
                 "double precision, text[], text[], timestamp with time zone, "
                 "timestamp with time zone)")
NEW_SIGNATURE = OLD_SIGNATURE.replace("(bigint, ", "(bigint, bigint, ")


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0018_case_report_subdistrict'),
    ]

    operations = [
        migrations.RunSQL(
            [f"DROP FUNCTION {OLD_SIGNATURE}", function_sql("case_merge_candidate")],
            [f"DROP FUNCTION {NEW_SIGNATURE}", PREVIOUS],
        ),
    ]
