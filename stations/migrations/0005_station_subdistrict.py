"""A station is its subdistrict's (the district issue): the trigger that refuses a station
outside every subdistrict now also sets which one covers it, on every write, so no path can
store a station under the wrong subdistrict."""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION stations_station_inside_subdistrict() RETURNS trigger AS $$
BEGIN
    SELECT s.id INTO NEW.subdistrict_id FROM civicmap_subdistrict s
    WHERE ST_Covers(s.boundary, NEW.location::geometry) ORDER BY s.code LIMIT 1;
    IF NEW.subdistrict_id IS NULL THEN
        RAISE EXCEPTION 'station % lies outside every subdistrict', NEW.name_zh
            USING ERRCODE = 'check_violation', CONSTRAINT = 'station_inside_subdistrict';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER station_inside_subdistrict ON stations_station;
CREATE TRIGGER station_inside_subdistrict
    BEFORE INSERT OR UPDATE OF location, subdistrict_id ON stations_station
    FOR EACH ROW EXECUTE FUNCTION stations_station_inside_subdistrict();
UPDATE stations_station SET subdistrict_id = NULL;
"""

# Back to migration 0002's trigger and function (the column goes with the field).
BACK = """
DROP TRIGGER station_inside_subdistrict ON stations_station;
DROP FUNCTION stations_station_inside_subdistrict();
""" + import_module("stations.migrations.0002_station_inside_subdistrict_trigger").CREATE


def _field(null: bool) -> models.ForeignKey:
    return models.ForeignKey(editable=False, null=null,
                             on_delete=django.db.models.deletion.PROTECT,
                             related_name='stations', to='civicmap.subdistrict',
                             verbose_name='subdistrict')


class Migration(migrations.Migration):

    dependencies = [
        ('civicmap', '0002_membership'),
        ('stations', '0004_client_times_in_range'),
    ]

    operations = [
        migrations.AddField(model_name='station', name='subdistrict', field=_field(True)),
        migrations.RunSQL(CREATE, BACK),
        migrations.AlterField(model_name='station', name='subdistrict', field=_field(False)),
    ]
