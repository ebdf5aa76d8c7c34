"""A benefit redemption's station and rider are its check-in's, and its membership the rider's:
composite foreign keys (Django has no field for them), so no path can store a redemption at
another station than the visit or on another rider's card."""

from django.db import migrations

CREATE = """
ALTER TABLE stations_benefitredemption
    ADD CONSTRAINT redemption_checkin_station_rider
    FOREIGN KEY (checkin_id, station_id, rider_id)
    REFERENCES stations_checkin (id, station_id, rider_id) ON DELETE CASCADE
    DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT redemption_membership_rider
    FOREIGN KEY (membership_id, rider_id)
    REFERENCES stations_unionmembership (id, rider_id) ON DELETE CASCADE
    DEFERRABLE INITIALLY DEFERRED;
"""
DROP = """
ALTER TABLE stations_benefitredemption
    DROP CONSTRAINT redemption_checkin_station_rider,
    DROP CONSTRAINT redemption_membership_rider;
"""


class Migration(migrations.Migration):
    dependencies = [("stations", "0006_union_member_cards")]

    operations = [migrations.RunSQL(CREATE, DROP)]
