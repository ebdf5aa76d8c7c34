"""A task keeps a copy of its case's priority, kept by triggers, for task lists by priority.

``patrol_task_priority``: a task written (or moved to another case) takes its case's priority.
``issues_case_priority_to_tasks``: when a case's priority changes (the office's ``prioritise``),
its tasks follow. Triggers, as for the location (0005), so that the bulk paths and every
service keep the copy right without knowing of it. The task lists' partial indexes take the
priority before the deadline: a team's list, the most urgent first, stays one index range
(docs/DECISIONS.md D-058).
"""

from django.db import migrations, models

LIVE = ("offered", "accepted", "in_progress", "handed_in", "sent_back")

TRIGGERS = """
CREATE FUNCTION patrol_task_priority_from_case() RETURNS trigger AS $$
BEGIN
    NEW.priority := (SELECT priority FROM issues_case WHERE id = NEW.case_id);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER patrol_task_priority
    BEFORE INSERT OR UPDATE OF case_id ON patrol_task
    FOR EACH ROW EXECUTE FUNCTION patrol_task_priority_from_case();

CREATE FUNCTION issues_case_priority_to_tasks() RETURNS trigger AS $$
BEGIN
    UPDATE patrol_task SET priority = NEW.priority WHERE case_id = NEW.id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER issues_case_priority_to_tasks
    AFTER UPDATE OF priority ON issues_case
    FOR EACH ROW
    WHEN (OLD.priority IS DISTINCT FROM NEW.priority)
    EXECUTE FUNCTION issues_case_priority_to_tasks();

UPDATE patrol_task t SET priority = c.priority FROM issues_case c
WHERE c.id = t.case_id AND t.priority IS DISTINCT FROM c.priority;
"""

UNDO = """
DROP TRIGGER issues_case_priority_to_tasks ON issues_case;
DROP FUNCTION issues_case_priority_to_tasks();
DROP TRIGGER patrol_task_priority ON patrol_task;
DROP FUNCTION patrol_task_priority_from_case();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("issues", "0021_case_priority"),
        ("patrol", "0011_holiday_arrangements"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="task", name="task_live_team_due"),
        migrations.RemoveIndex(model_name="task", name="task_live_department_due"),
        migrations.AddField(
            model_name="task",
            name="priority",
            field=models.PositiveSmallIntegerField(
                choices=[(1, "Urgent"), (2, "High"), (3, "Normal")], db_default=3, default=3,
                editable=False, verbose_name="priority"),
        ),
        migrations.RunSQL(TRIGGERS, UNDO),
        *[migrations.AddIndex(
            model_name="task",
            index=models.Index(condition=models.Q(("status__in", LIVE)),
                               fields=[owner, "priority", "resolution_due", "id"],
                               name=f"task_live_{owner}_due"),
        ) for owner in ("team", "department")],
        migrations.AddConstraint(
            model_name="task",
            constraint=models.CheckConstraint(condition=models.Q(("priority__in", [1, 2, 3])),
                                              name="task_priority_valid"),
        ),
    ]
