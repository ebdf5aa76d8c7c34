"""A task keeps a copy of its case's subdistrict, kept by triggers, for one subdistrict's
overdue cases.

``patrol_task_subdistrict``: a task written (or moved to another case) takes its case's
subdistrict. ``issues_case_subdistrict_to_tasks``: when a case is transferred, its tasks follow.
Triggers, as for the location (0005) and the priority (0012), so that the bulk paths and every
service keep the copy right without knowing of it.

The two partial indexes lead with it: the overdue cases of one subdistrict (the map's community
statistics, the triage queue's filter) read its own late tasks, where the indexes by deadline
alone read every subdistrict's (16,000 late tasks with Nanyuan alone at 1,000,000 reports,
37,000 with two neighbours beside it; docs/BENCHMARKS.md §7).
"""

import django.db.models.deletion
from django.db import migrations, models

LIVE = ("offered", "accepted", "in_progress", "handed_in", "sent_back")

TRIGGERS = """
CREATE FUNCTION patrol_task_subdistrict_from_case() RETURNS trigger AS $$
BEGIN
    NEW.subdistrict_id := (SELECT subdistrict_id FROM issues_case WHERE id = NEW.case_id);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER patrol_task_subdistrict
    BEFORE INSERT OR UPDATE OF case_id ON patrol_task
    FOR EACH ROW EXECUTE FUNCTION patrol_task_subdistrict_from_case();

CREATE FUNCTION issues_case_subdistrict_to_tasks() RETURNS trigger AS $$
BEGIN
    UPDATE patrol_task SET subdistrict_id = NEW.subdistrict_id WHERE case_id = NEW.id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER issues_case_subdistrict_to_tasks
    AFTER UPDATE OF subdistrict_id ON issues_case
    FOR EACH ROW
    WHEN (OLD.subdistrict_id IS DISTINCT FROM NEW.subdistrict_id)
    EXECUTE FUNCTION issues_case_subdistrict_to_tasks();

UPDATE patrol_task t SET subdistrict_id = c.subdistrict_id FROM issues_case c
WHERE c.id = t.case_id;
-- the new key's deferred checks now, or the ALTER TABLE that follows finds them pending
SET CONSTRAINTS ALL IMMEDIATE;
"""

UNDO = """
DROP TRIGGER issues_case_subdistrict_to_tasks ON issues_case;
DROP FUNCTION issues_case_subdistrict_to_tasks();
DROP TRIGGER patrol_task_subdistrict ON patrol_task;
DROP FUNCTION patrol_task_subdistrict_from_case();
"""


def _field(*, null: bool) -> models.ForeignKey:
    return models.ForeignKey(
        editable=False, null=null, on_delete=django.db.models.deletion.PROTECT,
        related_name="+", to="civicmap.subdistrict", verbose_name="subdistrict")


class Migration(migrations.Migration):

    dependencies = [
        ("civicmap", "0002_membership"),
        ("patrol", "0016_task_live_due"),
    ]

    operations = [
        migrations.AddField(model_name="task", name="subdistrict", field=_field(null=True)),
        migrations.RunSQL(TRIGGERS, UNDO),
        migrations.AlterField(model_name="task", name="subdistrict", field=_field(null=False)),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(condition=models.Q(("status__in", LIVE)),
                               fields=["subdistrict", "resolution_due"], include=["case"],
                               name="task_live_subdistrict_due"),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(condition=models.Q(("status", "offered")),
                               fields=["subdistrict", "response_due"], include=["case"],
                               name="task_offered_subdistrict_due"),
        ),
    ]
