"""A task keeps a copy of its case's location, kept by triggers, for nearest-first team lists.

``patrol_task_location``: a task written (or moved to another case) takes its case's location.
``issues_case_location_to_tasks``: when a case moves (a report joins, a merge or split
recounts), its tasks follow. Triggers rather than service code, so that the bulk paths (COPY)
and every service keep the copy right without knowing of it. btree_gist lets a GiST index take
the team's id next to the location (a trusted extension: the database owner may create it).
"""

import django.contrib.gis.db.models.fields
import django.contrib.postgres.indexes
from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations, models

LIVE = ("offered", "accepted", "in_progress", "handed_in", "sent_back")

TRIGGERS = """
CREATE FUNCTION patrol_task_location_from_case() RETURNS trigger AS $$
BEGIN
    NEW.location := (SELECT location FROM issues_case WHERE id = NEW.case_id);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER patrol_task_location
    BEFORE INSERT OR UPDATE OF case_id ON patrol_task
    FOR EACH ROW EXECUTE FUNCTION patrol_task_location_from_case();

CREATE FUNCTION issues_case_location_to_tasks() RETURNS trigger AS $$
BEGIN
    UPDATE patrol_task SET location = NEW.location WHERE case_id = NEW.id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER issues_case_location_to_tasks
    AFTER UPDATE OF location ON issues_case
    FOR EACH ROW
    WHEN (OLD.location::geometry IS DISTINCT FROM NEW.location::geometry)
    EXECUTE FUNCTION issues_case_location_to_tasks();

UPDATE patrol_task t SET location = c.location FROM issues_case c WHERE c.id = t.case_id;
"""

UNDO = """
DROP TRIGGER issues_case_location_to_tasks ON issues_case;
DROP FUNCTION issues_case_location_to_tasks();
DROP TRIGGER patrol_task_location ON patrol_task;
DROP FUNCTION patrol_task_location_from_case();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("issues", "0005_case_queue_indexes"),
        ("patrol", "0004_task_list_indexes"),
    ]

    operations = [
        BtreeGistExtension(),
        migrations.AddField(
            model_name="task",
            name="location",
            field=django.contrib.gis.db.models.fields.PointField(
                editable=False, geography=True, null=True, srid=4326),
        ),
        migrations.RunSQL(TRIGGERS, UNDO),
        *[migrations.AddIndex(
            model_name="task",
            index=django.contrib.postgres.indexes.GistIndex(
                condition=models.Q(("status__in", LIVE)), fields=[owner, "location"],
                name=f"task_live_{owner}_location"),
        ) for owner in ("team", "department")],
    ]
