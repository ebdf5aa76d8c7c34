"""The roles of the platform as Django groups, with the model permissions each group holds.

Groups are synced after every ``migrate`` (and after a test flush) by ``role_groups_sync``, so a
change here takes effect without a data migration. Object-level rules (a volunteer sees only
their team's tasks) live in the apps' selectors and permission classes.
"""

from __future__ import annotations

from enum import StrEnum

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions


class Role(StrEnum):
    OFFICE_STAFF = "office_staff"
    UNION_STAFF = "union_staff"
    TEAM_LEADER = "team_leader"
    VOLUNTEER = "volunteer"
    DEPARTMENT_LIAISON = "department_liaison"
    RIDER = "rider"


# Model permissions per group, as "app_label.codename" (what the admin lets each role do).
ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.OFFICE_STAFF: [
        "issues.view_report", "issues.view_case", "issues.change_case", "issues.view_caseevent",
        "issues.view_category", "issues.change_category", "issues.view_reportphoto",
        "patrol.view_task", "patrol.change_task", "patrol.view_volunteerteam",
        "patrol.view_department", "civicmap.view_communitygrid", "civicmap.view_unitgrid",
        "stations.view_station", "patrol.view_webhookdelivery", "patrol.change_webhookdelivery",
    ],
    Role.UNION_STAFF: [
        "issues.view_rider", "issues.add_rider", "issues.change_rider",
        "issues.view_pointsentry", "authtoken.view_tokenproxy", "authtoken.add_tokenproxy",
        "authtoken.delete_tokenproxy", "stations.view_station", "stations.add_station",
        "stations.change_station", "stations.view_checkin", "stations.view_stationtoken",
        "patrol.view_task",
    ],
    Role.TEAM_LEADER: ["patrol.view_task", "patrol.view_volunteerteam"],
    Role.VOLUNTEER: ["patrol.view_task"],
    Role.DEPARTMENT_LIAISON: ["patrol.view_task"],
    Role.RIDER: [],
}


def role_groups_sync(sender=None, apps=global_apps, using: str = "default", **kwargs) -> None:
    """Create the role groups and give each exactly its permissions (a post_migrate handler)."""
    if sender is not None and sender.name != "civicmap":
        return
    for app_config in global_apps.get_app_configs():  # apps migrated after this one too
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.using(using).get_or_create(name=role.value)
        permissions = [
            permission_model.objects.using(using).get(
                content_type__app_label=name.split(".")[0], codename=name.split(".")[1]
            )
            for name in names
        ]
        group.permissions.set(permissions)


def user_has_role(user, role: Role) -> bool:
    """Whether an authenticated user is in the role's group (superusers hold every role)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return role.value in cached


def user_is_rider(user) -> bool:
    """A rider: an authenticated user with an active rider profile."""
    rider = getattr(user, "rider", None) if getattr(user, "is_authenticated", False) else None
    return rider is not None and rider.is_active
