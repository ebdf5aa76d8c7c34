"""Teams, departments and routing rules by subdistrict (the district issue). A team belongs to
the subdistrict of the communities it serves (else, where one subdistrict was loaded, that
one); departments and routing rules stay district-wide (no subdistrict) as they were."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q

TEAMS_FILL = """
UPDATE patrol_volunteerteam t SET subdistrict_id = (
    SELECT g.subdistrict_id FROM patrol_volunteerteam_communities tc
    JOIN civicmap_communitygrid g ON g.id = tc.communitygrid_id
    WHERE tc.volunteerteam_id = t.id ORDER BY g.code LIMIT 1)
WHERE subdistrict_id IS NULL;
UPDATE patrol_volunteerteam SET subdistrict_id = (SELECT min(id) FROM civicmap_subdistrict)
WHERE subdistrict_id IS NULL AND (SELECT count(*) FROM civicmap_subdistrict) = 1;
"""


def _team_subdistrict(null: bool) -> models.ForeignKey:
    return models.ForeignKey(null=null, on_delete=django.db.models.deletion.PROTECT,
                             related_name='teams', to='civicmap.subdistrict',
                             verbose_name='subdistrict')


class Migration(migrations.Migration):

    dependencies = [
        ('civicmap', '0002_membership'),
        ('issues', '0019_case_merge_candidate_by_subdistrict'),
        ('patrol', '0008_caseevent_task_constraint'),
    ]

    operations = [
        migrations.AddField(
            model_name='department', name='subdistrict',
            field=models.ForeignKey(blank=True, help_text='Empty: serves the whole district.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='departments', to='civicmap.subdistrict', verbose_name='subdistrict'),
        ),
        migrations.AddField(model_name='volunteerteam', name='subdistrict',
                            field=_team_subdistrict(True)),
        migrations.RunSQL(TEAMS_FILL, migrations.RunSQL.noop),
        migrations.AlterField(model_name='volunteerteam', name='subdistrict',
                              field=_team_subdistrict(False)),
        migrations.AddField(
            model_name='routingrule', name='subdistrict',
            field=models.ForeignKey(blank=True, help_text='Empty (and no community): the whole district.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='routing_rules', to='civicmap.subdistrict', verbose_name='subdistrict'),
        ),
        migrations.AlterField(
            model_name='routingrule', name='community',
            field=models.ForeignKey(blank=True, help_text='Empty: every community of the subdistrict.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='routing_rules', to='civicmap.communitygrid', verbose_name='community'),
        ),
        migrations.RemoveConstraint(model_name='routingrule', name='routing_rule_once_per_category'),
        # Back past here, the one rule per category everywhere returns: a subdistrict's own
        # rules cannot stay (the district's rule of each category is kept).
        migrations.RunSQL(migrations.RunSQL.noop,
                          "DELETE FROM patrol_routingrule WHERE subdistrict_id IS NOT NULL"),
        migrations.AddConstraint(
            model_name='routingrule',
            constraint=models.UniqueConstraint(condition=Q(community__isnull=True), fields=('category', 'subdistrict'), name='routing_rule_once_per_subdistrict', nulls_distinct=False),
        ),
        migrations.AddConstraint(
            model_name='routingrule',
            constraint=models.CheckConstraint(condition=Q(community__isnull=True) | Q(subdistrict__isnull=True), name='routing_rule_one_place'),
        ),
    ]
