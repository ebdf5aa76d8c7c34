"""The database keeps refusing a case event whose ``task_id`` is not a task's, now that
issues.CaseEvent stores it as a plain column (issues 0017): the foreign key Django made from
the old field is replaced by one under a stable name that patrol owns, deleted with its task
(as the old field's CASCADE did) and checked at commit (as Django's foreign keys are)."""

from django.db import migrations

FORWARD = """
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT con.conname FROM pg_constraint con
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
             WHERE con.conrelid = 'issues_caseevent'::regclass AND con.contype = 'f'
               AND a.attname = 'task_id'
    LOOP
        EXECUTE format('ALTER TABLE issues_caseevent DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;
ALTER TABLE issues_caseevent ADD CONSTRAINT caseevent_task_fk FOREIGN KEY (task_id)
    REFERENCES patrol_task (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
"""

# Back to a foreign key under Django's kind of name, as the old field had.
BACKWARD = """
ALTER TABLE issues_caseevent DROP CONSTRAINT caseevent_task_fk;
ALTER TABLE issues_caseevent ADD CONSTRAINT issues_caseevent_task_id_fk_patrol_task_id
    FOREIGN KEY (task_id) REFERENCES patrol_task (id) DEFERRABLE INITIALLY DEFERRED;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('issues', '0017_caseevent_task_id_plain'),
        ('patrol', '0007_client_times_in_range'),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
