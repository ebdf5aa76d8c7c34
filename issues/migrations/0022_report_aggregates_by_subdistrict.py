"""The report counts carry their subdistrict (issues.models.CellCount / GridCount), each table
with an index that leads with it: one subdistrict's map then reads only its own rows, however
many reports the other subdistricts hold (bench/bench_district.py measured Nanyuan's heat layer
1.56 times slower with 200,000 neighbouring reports when cells were placed by their centre).

Grid rows take their community's subdistrict. A cell may hold reports of two subdistricts, so
the cell rows are recounted from the reports (the SELECT of issues.aggregates as it is at this
migration, with the same hour and UTC-day truncation)."""

import django.db.models.deletion
from django.db import migrations, models

from civicmap.spatial import CELL_SIZE_M, METRIC_SRID

_FILL_GRIDS = """
    UPDATE issues_reportunitgridhour h SET subdistrict_id = c.subdistrict_id
    FROM civicmap_communitygrid c WHERE c.id = h.community_id;
    UPDATE issues_reportunitgridday d SET subdistrict_id = c.subdistrict_id
    FROM civicmap_communitygrid c WHERE c.id = d.community_id;
"""
_RECOUNT_CELLS = f"""
    DELETE FROM issues_reportcellhour;
    DELETE FROM issues_reportcellday;
    WITH counted (cell_x, cell_y, hour, category_id, subdistrict_id, n) AS (
        SELECT floor(ST_X(ST_Transform(location::geometry, {METRIC_SRID})) / {CELL_SIZE_M})::int,
               floor(ST_Y(ST_Transform(location::geometry, {METRIC_SRID})) / {CELL_SIZE_M})::int,
               date_trunc('hour', received_at), category_id, subdistrict_id, count(*)
        FROM issues_report GROUP BY 1, 2, 3, 4, 5),
    hourly AS (
        INSERT INTO issues_reportcellhour (cell_x, cell_y, hour, category_id, subdistrict_id,
                                           count)
        SELECT * FROM counted)
    INSERT INTO issues_reportcellday (cell_x, cell_y, day, category_id, subdistrict_id, count)
    SELECT cell_x, cell_y, date_trunc('day', hour, 'UTC'), category_id, subdistrict_id, sum(n)
    FROM counted GROUP BY 1, 2, 3, 4, 5;
"""


def _subdistrict(null: bool) -> models.ForeignKey:
    return models.ForeignKey(null=null, on_delete=django.db.models.deletion.CASCADE,
                             related_name="+", to="civicmap.subdistrict")


_MODELS = ("reportcellhour", "reportcellday", "reportunitgridhour", "reportunitgridday")


class Migration(migrations.Migration):

    dependencies = [
        ("civicmap", "0002_membership"),
        ("issues", "0021_case_priority"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="reportcellday", name="cell_day_unique"),
        migrations.RemoveConstraint(model_name="reportcellhour", name="cell_hour_unique"),
        *[migrations.AddField(model_name=name, name="subdistrict", field=_subdistrict(True))
          for name in _MODELS],
        migrations.RunSQL(_FILL_GRIDS + _RECOUNT_CELLS, migrations.RunSQL.noop),
        *[migrations.AlterField(model_name=name, name="subdistrict", field=_subdistrict(False))
          for name in _MODELS],
        migrations.AddIndex(model_name="reportcellday", index=models.Index(
            fields=["subdistrict", "day"], name="cell_day_subdistrict")),
        migrations.AddIndex(model_name="reportcellhour", index=models.Index(
            fields=["subdistrict", "hour"], name="cell_hour_subdistrict")),
        migrations.AddIndex(model_name="reportunitgridday", index=models.Index(
            fields=["subdistrict", "day"], name="grid_day_subdistrict")),
        migrations.AddIndex(model_name="reportunitgridhour", index=models.Index(
            fields=["subdistrict", "hour"], name="grid_hour_subdistrict")),
        migrations.AddConstraint(model_name="reportcellday", constraint=models.UniqueConstraint(
            fields=("day", "category", "cell_x", "cell_y", "subdistrict"),
            name="cell_day_unique")),
        migrations.AddConstraint(model_name="reportcellhour", constraint=models.UniqueConstraint(
            fields=("hour", "category", "cell_x", "cell_y", "subdistrict"),
            name="cell_hour_unique")),
    ]
