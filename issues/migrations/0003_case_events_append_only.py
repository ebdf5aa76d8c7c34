"""CaseEvent is an append-only audit: the database refuses to change a written event."""

from django.db import migrations

CREATE = """
CREATE FUNCTION issues_caseevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'case events are append-only'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER caseevent_append_only
    BEFORE UPDATE ON issues_caseevent
    FOR EACH ROW EXECUTE FUNCTION issues_caseevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS caseevent_append_only ON issues_caseevent;
DROP FUNCTION IF EXISTS issues_caseevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("issues", "0002_report_and_case_links")]
    operations = [migrations.RunSQL(CREATE, DROP)]
