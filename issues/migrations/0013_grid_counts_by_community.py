"""The unit-grid report counts carry their community, and reports in a community but in no
unit grid (intake allows them: the unit grids need not tile a community) get a row of the
community alone (unit grid NULL; the unique constraints treat NULLs as equal). Before this, the
choropleth, which sums a community's rows, left those reports out.

The existing rows take their unit grid's community; the reports never counted are counted here,
with the same hour and UTC-day truncation as issues.aggregates."""

import django.db.models.deletion
from django.db import migrations, models

_FILL = """
    SET CONSTRAINTS ALL IMMEDIATE;  -- no pending FK checks before the ALTERs below
    UPDATE issues_reportunitgridhour h SET community_id = u.community_id
    FROM civicmap_unitgrid u WHERE u.id = h.unit_grid_id;
    UPDATE issues_reportunitgridday d SET community_id = u.community_id
    FROM civicmap_unitgrid u WHERE u.id = d.unit_grid_id;
    WITH counted (community_id, hour, category_id, n) AS (
        SELECT community_grid_id, date_trunc('hour', received_at), category_id, count(*)
        FROM issues_report
        WHERE unit_grid_id IS NULL AND community_grid_id IS NOT NULL
        GROUP BY 1, 2, 3),
    hourly AS (
        INSERT INTO issues_reportunitgridhour (community_id, unit_grid_id, hour, category_id,
                                               count)
        SELECT community_id, NULL, hour, category_id, n FROM counted)
    INSERT INTO issues_reportunitgridday (community_id, unit_grid_id, day, category_id, count)
    SELECT community_id, NULL, date_trunc('day', hour, 'UTC'), category_id, sum(n)
    FROM counted GROUP BY 1, 3, 4;
"""


def _community(null: bool) -> models.ForeignKey:
    return models.ForeignKey(null=null, on_delete=django.db.models.deletion.CASCADE,
                             related_name="+", to="civicmap.communitygrid")


def _unit_grid() -> models.ForeignKey:
    return models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE,
                             related_name="+", to="civicmap.unitgrid")


class Migration(migrations.Migration):

    dependencies = [
        ("civicmap", "0001_subdistrict_community_and_unit_grids"),
        ("issues", "0012_case_merge_cell_with_stage"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="reportunitgridhour",
                                    name="unit_grid_hour_unique"),
        migrations.RemoveConstraint(model_name="reportunitgridday",
                                    name="unit_grid_day_unique"),
        migrations.AddField(model_name="reportunitgridhour", name="community",
                            field=_community(null=True)),
        migrations.AddField(model_name="reportunitgridday", name="community",
                            field=_community(null=True)),
        migrations.AlterField(model_name="reportunitgridhour", name="unit_grid",
                              field=_unit_grid()),
        migrations.AlterField(model_name="reportunitgridday", name="unit_grid",
                              field=_unit_grid()),
        migrations.RunSQL(_FILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(model_name="reportunitgridhour", name="community",
                              field=_community(null=False)),
        migrations.AlterField(model_name="reportunitgridday", name="community",
                              field=_community(null=False)),
        migrations.AddConstraint(
            model_name="reportunitgridhour",
            constraint=models.UniqueConstraint(
                fields=("hour", "category", "community", "unit_grid"), name="grid_hour_unique",
                nulls_distinct=False)),
        migrations.AddConstraint(
            model_name="reportunitgridday",
            constraint=models.UniqueConstraint(
                fields=("day", "category", "community", "unit_grid"), name="grid_day_unique",
                nulls_distinct=False)),
    ]
