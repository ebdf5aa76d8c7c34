"""Create the role groups with their model permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Kept here, not imported from civicmap.roles: a migration must not change when the code does.
ROLE_PERMISSIONS = {
    "office_staff": [
        "issues.view_report", "issues.view_case", "issues.change_case", "issues.view_caseevent",
        "issues.view_category", "issues.change_category", "issues.view_reportphoto",
        "patrol.view_task", "patrol.change_task", "patrol.view_volunteerteam",
        "patrol.view_department", "civicmap.view_communitygrid", "civicmap.view_unitgrid",
        "stations.view_station",
    ],
    "union_staff": [
        "issues.view_rider", "issues.add_rider", "issues.change_rider",
        "issues.view_pointsentry", "authtoken.view_tokenproxy", "authtoken.add_tokenproxy",
        "authtoken.delete_tokenproxy", "stations.view_station", "stations.add_station",
        "stations.change_station", "patrol.view_task",
    ],
    "team_leader": ["patrol.view_task", "patrol.view_volunteerteam"],
    "volunteer": ["patrol.view_task"],
    "department_liaison": ["patrol.view_task"],
    "rider": [],
}


def create_role_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("civicmap", "0001_subdistrict_community_and_unit_grids"),
        ("issues", "0002_report_and_case_links"),
        ("patrol", "0001_departments_teams_tasks"),
        ("stations", "0001_stations"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
