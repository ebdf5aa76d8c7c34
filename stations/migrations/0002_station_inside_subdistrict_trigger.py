"""A station must lie inside a subdistrict: enforced in the database so no path can skip it."""

from django.db import migrations

CREATE = """
CREATE FUNCTION stations_station_inside_subdistrict() RETURNS trigger AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM civicmap_subdistrict s
        WHERE ST_Covers(s.boundary, NEW.location::geometry)
    ) THEN
        RAISE EXCEPTION 'station % lies outside the subdistrict', NEW.name_zh
            USING ERRCODE = 'check_violation', CONSTRAINT = 'station_inside_subdistrict';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER station_inside_subdistrict
    BEFORE INSERT OR UPDATE OF location ON stations_station
    FOR EACH ROW EXECUTE FUNCTION stations_station_inside_subdistrict();
"""

DROP = """
DROP TRIGGER IF EXISTS station_inside_subdistrict ON stations_station;
DROP FUNCTION IF EXISTS stations_station_inside_subdistrict();
"""


class Migration(migrations.Migration):
    dependencies = [("stations", "0001_stations")]
    operations = [migrations.RunSQL(CREATE, DROP)]
