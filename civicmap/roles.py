"""The roles of the platform as Django groups, with the model permissions each group holds.

Groups are synced after every ``migrate`` (and after a test flush) by ``role_groups_sync``, so a
change here takes effect without a data migration. Object-level rules (a volunteer sees only
their team's tasks) live in the apps' selectors and permission classes.
"""

from __future__ import annotations

from enum import StrEnum

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q


class Role(StrEnum):
    OFFICE_STAFF = "office_staff"
    UNION_STAFF = "union_staff"
    TEAM_LEADER = "team_leader"
    VOLUNTEER = "volunteer"
    DEPARTMENT_LIAISON = "department_liaison"
    RIDER = "rider"


# --- the admin (/admin/) by role ------------------------------------------------------------
#
# Who works in the admin. The admin is for the two roles that run the platform from a desk; the
# others do their work in the phone pages and the API (a team leader's and a volunteer's tasks,
# a liaison's department's tasks, a rider's reports), so their accounts are not staff
# (fixtures/seed.py gives is_staff by this set) and their groups hold no model permission: a
# team leader wrongly made staff still sees nothing in the admin.
#
# What each admin role sees and may do there (docs/SECURITY.md, "Admin access by role"):
# - office staff: the catalogue (categories: view and change the routing and deadlines), cases,
#   reports, photos, tasks, teams, departments, the geography and the stations (view only),
#   and the webhook's deliveries (view, retry);
# - union staff: riders (view, add, change; riders only, never a staff account), riders' API
#   tokens (issue, view, revoke; riders' only), the points ledger, the stations (view, add,
#   change, new check-in codes) and their check-ins, and the union's own tasks (view);
# - the superuser: everything; users, groups, Open311 clients and staff accounts' tokens are
#   theirs alone.
# Rows: every admin shows a role only the rows the apps' own rules give it (patrol.selectors
# for tasks; riders' rows for union staff), and of cases, reports, tasks, teams, stations and
# check-ins only those of the subdistricts the account works for (civicmap.scopes). Fields
# written by the lifecycle and the other services (a case's stage, a task's status, events,
# points) are read-only for everyone.
ADMIN_ROLES = frozenset({Role.OFFICE_STAFF, Role.UNION_STAFF})

# Models whose admin is the superuser's alone, whatever permission a group is given:
# accounts, their groups and permissions, where each works (memberships: civicmap.scopes), and
# the Open311 clients' API keys.
SUPERUSER_ONLY_MODELS = frozenset({"auth.user", "auth.group", "auth.permission",
                                   "civicmap.membership", "issues.apiclient"})

# Model permissions per group, as "app_label.codename" (what the admin lets each role do).
ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.OFFICE_STAFF: [
        "issues.view_report", "issues.view_case", "issues.view_caseevent",
        "issues.view_category", "issues.change_category", "issues.view_reportphoto",
        "patrol.view_task", "patrol.view_volunteerteam",
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
    Role.TEAM_LEADER: [],
    Role.VOLUNTEER: [],
    Role.DEPARTMENT_LIAISON: [],
    Role.RIDER: [],
}

# The roles that make an account staff of the platform (not a plain rider).
STAFF_ROLES = frozenset(Role) - {Role.RIDER}


def role_permissions_check(permissions: dict[Role, list[str]]) -> None:
    """Refuse a table that gives a role outside the admin, or a superuser-only model, a
    permission: the rule above holds by construction, not by care."""
    for role, names in permissions.items():
        if names and role not in ADMIN_ROLES:
            raise ImproperlyConfigured(f"{role} works outside the admin: no model permission")
        for name in names:
            app_label, codename = name.split(".")
            model = codename.split("_", 1)[1]
            if f"{app_label}.{model}" in SUPERUSER_ONLY_MODELS:
                raise ImproperlyConfigured(f"{name} is the superuser's alone ({role})")


def role_groups_sync(sender=None, apps=global_apps, using: str = "default", **kwargs) -> None:
    """Create the role groups and give each exactly its permissions (a post_migrate handler)."""
    if sender is not None and sender.name != "civicmap":
        return
    role_permissions_check(ROLE_PERMISSIONS)
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


def staff_user_filter(*, through: str = "") -> Q:
    """Users with a staff role: staff or superuser accounts, or members of a staff role's group
    (``through`` is the path to the user, e.g. ``"user__"`` from a token)."""
    return (Q(**{f"{through}is_staff": True}) | Q(**{f"{through}is_superuser": True})
            | Q(**{f"{through}groups__name__in": sorted(STAFF_ROLES)}))


def rider_user_filter(*, through: str = "", active: bool = True) -> Q:
    """Riders and nothing else: an active rider profile and no staff role. Union staff issue
    API tokens to these users only (issues.admin.RiderTokenAdmin). With ``active=False`` the
    profile may be deactivated too: the union still sees and revokes a former rider's token."""
    profile = Q(**{f"{through}rider__is_active": True} if active
                else {f"{through}rider__isnull": False})
    return profile & ~staff_user_filter(through=through)

