"""The admin by role: every admin URL for every role, with its expected answer in one table.

The roles are the demo people of the reference data (fixtures/demo_people.json): only office
staff, union staff and the superuser are staff (civicmap.roles.ADMIN_ROLES), so the admin sends
everyone else to its login page. The objects behind the change, delete and history pages are
made the ordinary way: a case through the intake and the lifecycle (tests/patrol/helpers.py).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.apps import apps as django_apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.views import serve
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from civicmap.admin_access import ServiceWrittenAdminMixin, SuperuserOnlyAdminMixin
from civicmap.admin_widgets import OfflineGISModelAdmin, OfflineOSMWidget
from civicmap.models import CommunityGrid, Membership, Subdistrict, UnitGrid
from civicmap.roles import (
    ADMIN_ROLES,
    ROLE_PERMISSIONS,
    SUPERUSER_ONLY_MODELS,
    Role,
    role_permissions_check,
)
from issues.models import (
    ApiClient,
    Case,
    CaseConfirmation,
    Category,
    CategoryGroup,
    PointsEntry,
    Report,
    Rider,
    Stage,
)
from patrol.models import Department, Notification, Task, VolunteerTeam, WebhookDelivery
from stations.models import CheckIn, Station
from stations.services import station_token_ensure
from tests.patrol.helpers import act, app_report, case_in_stage, live_task, report, user

pytestmark = pytest.mark.django_db

# The roles, in the order of the table's columns, and who plays each.
ROLES = {
    "anonymous": None,
    "rider": "rider1",
    "volunteer": "cw_vol1",
    "team_leader": "cw_lead",
    "liaison": "liaison_municipal",
    "office": "office1",
    "union": "union1",
    "superuser": "admin",
}
KINDS = ("changelist", "add", "change", "delete", "history")

# Everyone who is not staff is sent to the admin's login page: 302 on every admin URL.
OUT = (302, 302, 302, 302, 302)


def row(office: int, union: int, superuser: int) -> tuple[int, ...]:
    return (*OUT, office, union, superuser)


# (model label or "index", URL kind or app label) → the answer for each role, in ROLES' order.
# A GET of a delete page answers 200 with the confirmation (nothing is deleted by a GET).
EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    ("index", "index"): row(200, 200, 200),
    ("index", "auth"): row(404, 404, 200),  # an app with nothing to show the role: 404
    ("index", "authtoken"): row(404, 200, 200),
    ("index", "civicmap"): row(200, 404, 200),
    ("index", "issues"): row(200, 200, 200),
    ("index", "patrol"): row(200, 200, 200),
    ("index", "stations"): row(200, 200, 200),
    # Users and groups: the superuser's alone.
    ("auth.group", "changelist"): row(403, 403, 200),
    ("auth.group", "add"): row(403, 403, 200),
    ("auth.group", "change"): row(403, 403, 200),
    ("auth.group", "delete"): row(403, 403, 200),
    ("auth.group", "history"): row(403, 403, 200),
    ("auth.user", "changelist"): row(403, 403, 200),
    ("auth.user", "add"): row(403, 403, 200),
    ("auth.user", "change"): row(403, 403, 200),
    ("auth.user", "delete"): row(403, 403, 200),
    ("auth.user", "history"): row(403, 403, 200),
    ("auth.user", "password_change"): row(403, 403, 200),
    # Where each staff account works (civicmap.scopes): the superuser's alone, like accounts.
    ("civicmap.membership", "changelist"): row(403, 403, 200),
    ("civicmap.membership", "add"): row(403, 403, 200),
    ("civicmap.membership", "change"): row(403, 403, 200),
    ("civicmap.membership", "delete"): row(403, 403, 200),
    ("civicmap.membership", "history"): row(403, 403, 200),
    # The geography: the office reads the grids; only the superuser edits.
    ("civicmap.subdistrict", "changelist"): row(403, 403, 200),
    ("civicmap.subdistrict", "add"): row(403, 403, 200),
    ("civicmap.subdistrict", "change"): row(403, 403, 200),
    ("civicmap.subdistrict", "delete"): row(403, 403, 200),
    ("civicmap.subdistrict", "history"): row(403, 403, 200),
    ("civicmap.communitygrid", "changelist"): row(200, 403, 200),
    ("civicmap.communitygrid", "add"): row(403, 403, 200),
    ("civicmap.communitygrid", "change"): row(200, 403, 200),
    ("civicmap.communitygrid", "delete"): row(403, 403, 200),
    ("civicmap.communitygrid", "history"): row(200, 403, 200),
    ("civicmap.unitgrid", "changelist"): row(200, 403, 200),
    ("civicmap.unitgrid", "add"): row(403, 403, 200),
    ("civicmap.unitgrid", "change"): row(200, 403, 200),
    ("civicmap.unitgrid", "delete"): row(403, 403, 200),
    ("civicmap.unitgrid", "history"): row(200, 403, 200),
    # The catalogue: the office keeps categories (routing, deadlines).
    ("issues.categorygroup", "changelist"): row(403, 403, 200),
    ("issues.categorygroup", "add"): row(403, 403, 200),
    ("issues.categorygroup", "change"): row(403, 403, 200),
    ("issues.categorygroup", "delete"): row(403, 403, 200),
    ("issues.categorygroup", "history"): row(403, 403, 200),
    ("issues.category", "changelist"): row(200, 403, 200),
    ("issues.category", "add"): row(403, 403, 200),
    ("issues.category", "change"): row(200, 403, 200),
    ("issues.category", "delete"): row(403, 403, 200),
    ("issues.category", "history"): row(200, 403, 200),
    # Riders and their tokens: union staff, riders' rows only (rider1 here).
    ("issues.rider", "changelist"): row(403, 200, 200),
    ("issues.rider", "add"): row(403, 200, 200),
    ("issues.rider", "change"): row(403, 200, 200),
    ("issues.rider", "delete"): row(403, 403, 200),
    ("issues.rider", "history"): row(403, 200, 200),
    ("authtoken.tokenproxy", "changelist"): row(403, 200, 200),
    ("authtoken.tokenproxy", "add"): row(403, 200, 200),
    ("authtoken.tokenproxy", "change"): row(403, 200, 200),
    ("authtoken.tokenproxy", "delete"): row(403, 200, 200),
    ("authtoken.tokenproxy", "history"): row(403, 200, 200),
    ("issues.apiclient", "changelist"): row(403, 403, 200),
    ("issues.apiclient", "add"): row(403, 403, 200),
    ("issues.apiclient", "change"): row(403, 403, 200),
    ("issues.apiclient", "delete"): row(403, 403, 200),
    ("issues.apiclient", "history"): row(403, 403, 200),
    # Written by the intake and the lifecycle: shown, never added, changed or deleted here.
    ("issues.report", "changelist"): row(200, 403, 200),
    ("issues.report", "add"): row(403, 403, 403),
    ("issues.report", "change"): row(200, 403, 200),
    ("issues.report", "delete"): row(403, 403, 403),
    ("issues.report", "history"): row(200, 403, 200),
    ("issues.case", "changelist"): row(200, 403, 200),
    ("issues.case", "add"): row(403, 403, 403),
    ("issues.case", "change"): row(200, 403, 200),
    ("issues.case", "delete"): row(403, 403, 403),
    ("issues.case", "history"): row(200, 403, 200),
    ("issues.reportphoto", "changelist"): row(200, 403, 200),
    ("issues.reportphoto", "add"): row(403, 403, 403),
    ("issues.reportphoto", "change"): row(200, 403, 200),
    ("issues.reportphoto", "delete"): row(403, 403, 403),
    ("issues.reportphoto", "history"): row(200, 403, 200),
    ("issues.caseconfirmation", "changelist"): row(403, 403, 200),
    ("issues.caseconfirmation", "add"): row(403, 403, 403),
    ("issues.caseconfirmation", "change"): row(403, 403, 200),
    ("issues.caseconfirmation", "delete"): row(403, 403, 403),
    ("issues.caseconfirmation", "history"): row(403, 403, 200),
    ("issues.pointsentry", "changelist"): row(403, 200, 200),
    ("issues.pointsentry", "add"): row(403, 403, 403),
    ("issues.pointsentry", "change"): row(403, 200, 200),
    ("issues.pointsentry", "delete"): row(403, 403, 403),
    ("issues.pointsentry", "history"): row(403, 200, 200),
    # Teams and departments: the office reads them; membership is the superuser's.
    ("patrol.department", "changelist"): row(200, 403, 200),
    ("patrol.department", "add"): row(403, 403, 200),
    ("patrol.department", "change"): row(200, 403, 200),
    ("patrol.department", "delete"): row(403, 403, 200),
    ("patrol.department", "history"): row(200, 403, 200),
    ("patrol.volunteerteam", "changelist"): row(200, 403, 200),
    ("patrol.volunteerteam", "add"): row(403, 403, 200),
    ("patrol.volunteerteam", "change"): row(200, 403, 200),
    ("patrol.volunteerteam", "delete"): row(403, 403, 200),
    ("patrol.volunteerteam", "history"): row(200, 403, 200),
    # A team's task (housekeeper): union staff see the union's tasks only, so it is not found.
    ("patrol.task", "changelist"): row(200, 200, 200),
    ("patrol.task", "add"): row(403, 403, 403),
    ("patrol.task", "change"): row(200, 404, 200),
    ("patrol.task", "delete"): row(403, 404, 403),
    ("patrol.task", "history"): row(200, 404, 200),
    ("patrol.notification", "changelist"): row(403, 403, 200),
    ("patrol.notification", "add"): row(403, 403, 403),
    ("patrol.notification", "change"): row(403, 403, 200),
    ("patrol.notification", "delete"): row(403, 403, 403),
    ("patrol.notification", "history"): row(403, 403, 200),
    ("patrol.webhookdelivery", "changelist"): row(200, 403, 200),
    ("patrol.webhookdelivery", "add"): row(403, 403, 403),
    ("patrol.webhookdelivery", "change"): row(200, 403, 200),
    ("patrol.webhookdelivery", "delete"): row(403, 403, 403),
    ("patrol.webhookdelivery", "history"): row(200, 403, 200),
    # Stations: union staff run them; the office reads them.
    ("stations.station", "changelist"): row(200, 200, 200),
    ("stations.station", "add"): row(403, 200, 200),
    ("stations.station", "change"): row(200, 200, 200),
    ("stations.station", "delete"): row(403, 403, 200),
    ("stations.station", "history"): row(200, 200, 200),
    ("stations.station", "import"): row(302, 200, 200),  # back to the list without add+change
    ("stations.checkin", "changelist"): row(403, 200, 200),
    ("stations.checkin", "add"): row(403, 403, 403),
    ("stations.checkin", "change"): row(403, 200, 200),
    ("stations.checkin", "delete"): row(403, 403, 403),
    ("stations.checkin", "history"): row(403, 200, 200),
}

# django-axes (the login lockout) registers its models' admin where it is installed: login
# attempts with addresses and usernames, the superuser's alone (no role holds a permission);
# deleting an attempt is how the superuser unlocks an account.
if django_apps.is_installed("axes"):
    EXPECTED[("index", "axes")] = row(404, 404, 200)
    for _label in ("axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"):
        EXPECTED.update({
            (_label, "changelist"): row(403, 403, 200),
            (_label, "add"): row(403, 403, 403),
            (_label, "change"): row(403, 403, 200),
            (_label, "delete"): row(403, 403, 200),
            (_label, "history"): row(403, 403, 200),
        })

# The admin's own URLs that are not a model's page, each with why it is not in the walk.
SITE_URLS_NOT_WALKED = {
    "login", "logout", "password_change", "password_change_done",  # accounts, not data
    "jsi18n", "autocomplete",  # serve the pages above; autocomplete checks the model's view
    "view_on_site",  # a redirect to the object's public page (none of ours defines one)
    "index", "app_list",  # walked above, as ("index", ...)
}


@dataclass
class Objects:
    """One existing object per registered model: the change, delete and history pages' row."""

    by_label: dict[str, Model]


@pytest.fixture
def objects(reference_data, settings) -> Objects:
    """A closed case made the ordinary way (reports, tasks, events, points, notifications and
    webhook deliveries written by the services), a confirmation and a check-in."""
    settings.WEBHOOK_URL = "http://127.0.0.1:9/webhook"  # never called: no commit in the test
    settings.WEBHOOK_SECRET = "admin-walk"
    settings.WEBHOOK_KINDS = []
    case = case_in_stage("closed", category="E0101")
    task = Task.objects.get(case=case)
    assert task.team.code == "housekeeper"
    open_case = report("E0101", point=2, reporter="rider2").case
    confirmation = CaseConfirmation.objects.create(case=open_case, rider=user("rider3"),
                                                   client_uuid=uuid.uuid4())
    station = Station.objects.order_by("pk").first()
    token = station_token_ensure(station=station)
    checkin = CheckIn.objects.create(
        rider=user("rider1"), station=station, token=token, method="scan",
        at=timezone.now(), hour_bucket=0, position=station.location, distance_m=0.0)
    rider1 = user("rider1")
    login_records = {}
    if django_apps.is_installed("axes"):
        # Not a walking user's name: a sign-in clears that username's attempts (reset on success).
        attempt = {"user_agent": "probe", "ip_address": "192.0.2.7", "username": "no-such-user",
                   "http_accept": "*/*", "path_info": "/admin/login/"}
        for name, extra in (("accessattempt", {"get_data": "", "post_data": "",
                                               "failures_since_start": 1}),
                            ("accesslog", {}), ("accessfailurelog", {})):
            model = django_apps.get_model("axes", name)
            login_records[f"axes.{name}"] = model.objects.create(**attempt, **extra)
    return Objects(by_label={
        **login_records,
        "auth.group": Group.objects.get(name=Role.OFFICE_STAFF.value),
        "auth.user": user("admin"),
        "civicmap.subdistrict": Subdistrict.objects.first(),
        "civicmap.membership": Membership.objects.get(user__username="office1"),
        "civicmap.communitygrid": CommunityGrid.objects.first(),
        "civicmap.unitgrid": UnitGrid.objects.first(),
        "issues.categorygroup": CategoryGroup.objects.first(),
        "issues.category": Category.objects.get(code="E0101"),
        "issues.rider": Rider.objects.get(user=rider1),
        # A token's admin pages are addressed by its user's id (rest_framework's TokenAdmin).
        "authtoken.tokenproxy": rider1,
        "issues.apiclient": ApiClient.objects.first(),
        "issues.report": Report.objects.filter(case=case).first(),
        "issues.case": case,
        "issues.reportphoto": task.proof_photo,
        "issues.caseconfirmation": confirmation,
        "issues.pointsentry": PointsEntry.objects.filter(case=case).first(),
        "patrol.department": Department.objects.get(code="municipal"),
        "patrol.volunteerteam": VolunteerTeam.objects.get(code="housekeeper"),
        "patrol.task": task,
        "patrol.notification": Notification.objects.filter(case=case).first(),
        "patrol.webhookdelivery": WebhookDelivery.objects.filter(
            notification__case=case).first(),
        "stations.station": station,
        "stations.checkin": checkin,
    })


def client_as(role: str) -> Client:
    client = Client()
    if ROLES[role] is not None:
        client.force_login(user(ROLES[role]))
    return client


def admin_urls(objects: Objects) -> dict[tuple[str, str], str]:
    """Every admin URL to walk: the index, each app's index, and each registered model's
    changelist, add, change, delete, history and any URL of its own (the station import)."""
    urls = {("index", "index"): reverse("admin:index")}
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        app_label, model_name = model._meta.app_label, model._meta.model_name
        urls[("index", app_label)] = reverse("admin:app_list", args=[app_label])
        obj = objects.by_label.get(label)
        assert obj is not None, f"no object for {label}: add one to the objects fixture"
        prefix = f"{app_label}_{model_name}_"
        for pattern in model_admin.get_urls():
            if pattern.name is None or not pattern.name.startswith(prefix):
                continue  # the catch-all redirect of an old-style change URL
            kind = pattern.name[len(prefix):]
            args = [obj.pk] if pattern.pattern.regex.groups else []  # an object's own page
            urls[(label, kind)] = reverse(f"admin:{pattern.name}", args=args)
    return urls


def test_the_table_has_a_row_for_every_admin_url_and_no_other(objects):
    urls = admin_urls(objects)
    assert sorted(set(urls) - set(EXPECTED)) == [], "admin URLs without a row in EXPECTED"
    assert sorted(set(EXPECTED) - set(urls)) == [], "rows in EXPECTED for no admin URL"
    # The site's own patterns (the models' pages are included under it, without a name).
    site_names = {pattern.name for pattern in admin.site.get_urls()
                  if getattr(pattern, "name", None)}
    assert site_names == SITE_URLS_NOT_WALKED


@pytest.mark.parametrize("role", list(ROLES))
def test_every_admin_url_answers_each_role_as_the_table_says(objects, role):
    urls = admin_urls(objects)
    column = list(ROLES).index(role)
    client = client_as(role)
    answers = {key: client.get(url).status_code for key, url in urls.items()}
    expected = {key: EXPECTED[key][column] for key in urls}
    wrong = {key: (answers[key], expected[key]) for key in urls if answers[key] != expected[key]}
    assert wrong == {}, f"{role}: (got, expected) per URL"
    if ROLES[role] is None or role not in {"office", "union", "superuser"}:
        # Sent to the login page, not to some other page that answers 302.
        login = client.get(urls[("index", "index")])
        assert urlsplit(login["Location"]).path == reverse("admin:login")


# --- the hole: union staff and the tokens of staff accounts -----------------------------------


def test_union_staff_list_and_open_riders_tokens_only(reference_data):
    union = client_as("union")
    listing = union.get(reverse("admin:authtoken_tokenproxy_changelist") + "?all=")
    assert listing.status_code == 200
    listed = {token.user.username for token in listing.context["cl"].result_list}
    staff = set(Token.objects.filter(user__is_staff=True).values_list("user__username",
                                                                       flat=True))
    assert {"admin", "office1", "union1"} <= staff
    assert listed == {"rider1", "rider2", "rider3", "rider4", "rider5"}
    admin_id = user("admin").pk
    for name in ("change", "delete", "history"):
        answer = union.get(reverse(f"admin:authtoken_tokenproxy_{name}", args=[admin_id]))
        assert answer.status_code == 404, name
        assert Token.objects.get(user_id=admin_id).key not in answer.content.decode()
    # Nor a volunteer's or a team leader's: a staff role, though not an admin account.
    for username in ("cw_vol1", "cw_lead", "liaison_municipal", "office1"):
        answer = union.get(reverse("admin:authtoken_tokenproxy_change",
                                   args=[user(username).pk]))
        assert answer.status_code == 404, username
    rider_page = union.get(reverse("admin:authtoken_tokenproxy_change",
                                   args=[user("rider1").pk]))
    assert rider_page.status_code == 200 and "<svg" in rider_page.content.decode()


def test_union_staff_cannot_delete_or_issue_a_staff_accounts_token(reference_data):
    union = client_as("union")
    admin_user = user("admin")
    key = Token.objects.get(user=admin_user).key
    answer = union.post(reverse("admin:authtoken_tokenproxy_delete", args=[admin_user.pk]),
                        {"post": "yes"})
    assert answer.status_code == 404
    assert Token.objects.filter(key=key).exists()
    # A staff account without a token: union staff cannot issue one to it.
    Token.objects.filter(user__username="office2").delete()
    add_url = reverse("admin:authtoken_tokenproxy_add")
    choices = {int(str(value)) for value, _label in
               union.get(add_url).context["adminform"].form.fields["user"].choices if value}
    riders = {user(f"rider{n}").pk for n in range(1, 6)}
    assert choices == riders
    answer = union.post(add_url, {"user": user("office2").pk})
    assert answer.status_code == 200  # the form again: not one of the choices
    assert not Token.objects.filter(user__username="office2").exists()


def test_union_staff_rotate_a_riders_token(reference_data):
    union = client_as("union")
    rider = user("rider2")
    old = Token.objects.get(user=rider).key
    answer = union.post(reverse("admin:authtoken_tokenproxy_delete", args=[rider.pk]),
                        {"post": "yes"})
    assert answer.status_code == 302 and not Token.objects.filter(key=old).exists()
    answer = union.post(reverse("admin:authtoken_tokenproxy_add"), {"user": rider.pk})
    assert answer.status_code == 302
    assert Token.objects.get(user=rider).key != old


def test_a_deactivated_riders_token_can_be_revoked_but_not_issued_again(reference_data):
    Rider.objects.filter(user__username="rider4").update(is_active=False)
    rider4 = user("rider4")
    union = client_as("union")
    add_url = reverse("admin:authtoken_tokenproxy_add")
    choices = {int(str(value)) for value, _label in
               union.get(add_url).context["adminform"].form.fields["user"].choices if value}
    assert rider4.pk not in choices and user("rider3").pk in choices
    answer = union.post(reverse("admin:authtoken_tokenproxy_delete", args=[rider4.pk]),
                        {"post": "yes"})
    assert answer.status_code == 302 and not Token.objects.filter(user=rider4).exists()
    assert union.post(add_url, {"user": rider4.pk}).status_code == 200  # refused: the form
    assert not Token.objects.filter(user=rider4).exists()


def test_a_rider_profile_on_a_staff_account_does_not_open_its_token(reference_data):
    """A rider is a user with an active rider profile and no staff role."""
    Rider.objects.create(user=user("cw_vol1"), display_name="志愿者兼骑手")
    union = client_as("union")
    answer = union.get(reverse("admin:authtoken_tokenproxy_change", args=[user("cw_vol1").pk]))
    assert answer.status_code == 404
    riders = union.get(reverse("admin:issues_rider_changelist") + "?all=")
    assert "志愿者兼骑手" not in {r.display_name for r in riders.context["cl"].result_list}
    profile = Rider.objects.get(user__username="cw_vol1")
    assert union.get(reverse("admin:issues_rider_change", args=[profile.pk])).status_code == 404
    # Nor can union staff put a rider profile on a staff account.
    form = union.get(reverse("admin:issues_rider_add")).context["adminform"].form
    offered = {int(str(value)) for value, _label in form.fields["user"].choices if value}
    assert user("rider1").pk in offered
    assert not offered & {user(name).pk for name in ("admin", "office1", "union1", "cw_lead")}


# --- models and rows by role ------------------------------------------------------------------


def _models_on_index(client: Client) -> set[str]:
    app_list = client.get(reverse("admin:index")).context["app_list"]
    return {f"{app['app_label']}.{m['object_name'].lower()}"
            for app in app_list for m in app["models"]}


@pytest.mark.parametrize("role", sorted(ADMIN_ROLES))
def test_the_index_shows_each_role_the_models_of_civicmap_roles(reference_data, role):
    username = {Role.OFFICE_STAFF: "office1", Role.UNION_STAFF: "union1"}[role]
    client = Client()
    client.force_login(user(username))
    granted = {f"{name.split('.')[0]}.{name.split('_', 1)[1]}" for name in ROLE_PERMISSIONS[role]}
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert _models_on_index(client) == granted & registered


def test_a_worker_made_staff_by_mistake_still_sees_nothing(reference_data):
    leader = user("cw_lead")
    leader.is_staff = True
    leader.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(leader)
    assert _models_on_index(client) == set()
    assert client.get(reverse("admin:patrol_task_changelist")).status_code == 403


def test_task_rows_follow_the_lifecycles_rule_whatever_the_permission(reference_data):
    """Rows come from patrol.selectors.tasks_for_user: even a team leader given the view
    permission by hand sees their team's tasks only, and union staff the union's."""
    housekeeper = Task.objects.get(case=case_in_stage("dispatched", category="E0101"))
    west = live_task(case_in_stage("dispatched", category="E0201",
                                   community="110106005001"))
    union_task = live_task(app_report("L0201", reporter="rider1").case)
    assert (housekeeper.team.code, west.team.code, union_task.assignee_kind) == (
        "housekeeper", "civility_west", "union")
    leader = user("cw_lead")
    leader.is_staff = True
    leader.save(update_fields=["is_staff"])
    leader.user_permissions.add(Permission.objects.get(codename="view_task"))
    expected = {"cw_lead": {west.pk}, "union1": {union_task.pk},
                "office1": {housekeeper.pk, west.pk, union_task.pk}}
    for username, ids in expected.items():
        client = Client()
        client.force_login(user(username))
        listing = client.get(reverse("admin:patrol_task_changelist") + "?all=")
        assert {t.pk for t in listing.context["cl"].result_list} == ids, username
        for task in (housekeeper, west, union_task):
            answer = client.get(reverse("admin:patrol_task_change", args=[task.pk]))
            assert answer.status_code == (200 if task.pk in ids else 404), (username, task.pk)


def test_roles_table_refuses_admin_permissions_outside_the_admin_roles():
    role_permissions_check(ROLE_PERMISSIONS)
    with pytest.raises(ImproperlyConfigured):
        role_permissions_check({**ROLE_PERMISSIONS, Role.TEAM_LEADER: ["patrol.view_task"]})
    with pytest.raises(ImproperlyConfigured):
        role_permissions_check({**ROLE_PERMISSIONS,
                                Role.UNION_STAFF: [*ROLE_PERMISSIONS[Role.UNION_STAFF],
                                                   "auth.change_user"]})
    assert {"auth.user", "auth.group"} <= SUPERUSER_ONLY_MODELS
    for model, model_admin in admin.site._registry.items():
        if model._meta.label_lower in SUPERUSER_ONLY_MODELS:
            assert isinstance(model_admin, SuperuserOnlyAdminMixin), model._meta.label


def test_users_and_groups_stay_the_superusers_even_if_a_group_is_given_them(reference_data):
    office = Group.objects.get(name=Role.OFFICE_STAFF.value)
    office.permissions.add(*Permission.objects.filter(content_type__app_label="auth"))
    client = client_as("office")
    for name in ("admin:auth_user_changelist", "admin:auth_group_changelist"):
        assert client.get(reverse(name)).status_code == 403
    answer = client.post(reverse("admin:auth_user_change", args=[user("office1").pk]),
                         {"username": "office1", "is_superuser": "on"})
    assert answer.status_code == 403
    assert not user("office1").is_superuser
    # Nor can the accounts be listed through another model's autocomplete (a rider's user).
    autocomplete = reverse("admin:autocomplete") + (
        "?app_label=issues&model_name=rider&field_name=user&term=adm")
    assert client_as("union").get(autocomplete).status_code == 403
    assert client_as("superuser").get(autocomplete).status_code == 200


# --- the workflow's fields: read-only for everyone, the superuser included --------------------


def test_nobody_moves_a_case_or_a_task_from_the_admin(reference_data):
    case = case_in_stage("dispatched", category="E0101")
    task = live_task(case)
    client = client_as("superuser")
    page = client.get(reverse("admin:issues_case_change", args=[case.pk])).content.decode()
    assert 'name="stage"' not in page and 'name="report_count"' not in page
    answer = client.post(reverse("admin:issues_case_change", args=[case.pk]),
                         {"stage": Stage.CLOSED, "report_count": "99"})
    assert answer.status_code == 403
    answer = client.post(reverse("admin:patrol_task_change", args=[task.pk]),
                         {"status": "done"})
    assert answer.status_code == 403
    case.refresh_from_db()
    task.refresh_from_db()
    assert (case.stage, case.report_count, task.status) == (Stage.DISPATCHED, 1, "offered")
    case_admin = admin.site._registry[Case]
    assert {"stage", "merged_into", "follows", "report_count"} <= set(case_admin.readonly_fields)
    task_admin = admin.site._registry[Task]
    assert {"status", "accepted_at", "handed_in_at", "finished_at"} <= set(
        task_admin.readonly_fields)


def test_the_media_fetch_state_is_shown_read_only(reference_data):
    """The Open311 media job's state (the outbox on the report) is for looking at: a failed
    fetch is found by its filter, and nobody sets it back from the admin."""
    failed = report("E0101")
    Report.objects.filter(pk=failed.pk).update(media_url="http://media.example/a.jpg",
                                               media_status="failed", media_attempts=3)
    client = client_as("superuser")
    listing = client.get(reverse("admin:issues_report_changelist"), {"media_status": "failed"})
    assert [row.pk for row in listing.context["cl"].result_list] == [failed.pk]
    page = client.get(reverse("admin:issues_report_change", args=[failed.pk])).content.decode()
    assert "media_status" not in re.findall(r'name="([^"]+)"', page)
    assert "media_attempts" not in re.findall(r'name="([^"]+)"', page)
    answer = client.post(reverse("admin:issues_report_change", args=[failed.pk]),
                         {"media_status": "pending", "media_attempts": "0"})
    assert answer.status_code == 403
    failed.refresh_from_db()
    assert (failed.media_status, failed.media_attempts) == ("failed", 3)


def test_the_lifecycle_still_moves_what_the_admin_shows(reference_data):
    case = case_in_stage("filed", category="E0101")
    act(case, "dispatch", "office1")
    page = client_as("office").get(reverse("admin:issues_case_change", args=[case.pk]))
    assert page.status_code == 200
    assert page.context["original"].stage == Stage.DISPATCHED


# --- the map widgets: served by us ------------------------------------------------------------

ATTRIBUTE_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)


def _foreign_urls(html: str) -> list[str]:
    return [url for url in ATTRIBUTE_URL.findall(html)
            if url.startswith("//") or urlsplit(url).scheme in {"http", "https"}
            and urlsplit(url).hostname not in {"testserver"}]


def _served(url: str) -> int:
    path = urlsplit(url).path.removeprefix("/static/")
    assert finders.find(path) is not None, path
    return serve(RequestFactory().get(url), path, insecure=True).status_code


def _map_pages(objects: Objects) -> list[tuple[str, str]]:
    """(role, URL) of every add and change page of an admin with a geometry field."""
    pages = []
    for model, model_admin in admin.site._registry.items():
        if not getattr(model_admin, "geometry_maps", None):
            continue
        obj = objects.by_label[model._meta.label_lower]
        info = (model._meta.app_label, model._meta.model_name)
        pages.append(("superuser", reverse("admin:{}_{}_change".format(*info), args=[obj.pk])))
        if not isinstance(model_admin, ServiceWrittenAdminMixin):
            pages.append(("superuser", reverse("admin:{}_{}_add".format(*info))))
    pages.append(("office", reverse("admin:issues_case_change",
                                    args=[objects.by_label["issues.case"].pk])))
    pages.append(("union", reverse("admin:stations_station_change",
                                   args=[objects.by_label["stations.station"].pk])))
    return pages


def test_every_admin_with_a_geometry_uses_the_offline_widget():
    from django.contrib.gis.db.models import GeometryField

    for model, model_admin in admin.site._registry.items():
        if any(isinstance(f, GeometryField) for f in model._meta.concrete_fields):
            assert isinstance(model_admin, OfflineGISModelAdmin), model._meta.label


def test_map_pages_load_nothing_from_another_origin(objects):
    pages = _map_pages(objects)
    labels = {url.split("/")[3] for _role, url in pages}  # /admin/<app>/<model>/...
    assert {"case", "report", "station", "task", "checkin", "subdistrict",
            "communitygrid", "unitgrid"} <= labels
    ol_js = str(OfflineOSMWidget().media["js"]._js[0])
    for role, url in pages:
        answer = client_as(role).get(url)
        assert answer.status_code == 200, url
        html = answer.content.decode()
        assert _foreign_urls(html) == [], url
        assert 'class="dj_map"' in html, url  # a map, editable or read-only, not WKT text
        scripts = [u for u in ATTRIBUTE_URL.findall(html) if u.startswith("/static/")]
        assert f"/static/{ol_js}" in scripts, url
        for script in scripts:
            assert _served(script) == 200, script


def test_a_view_only_page_draws_its_geometry_read_only(objects):
    case = objects.by_label["issues.case"]
    html = client_as("office").get(
        reverse("admin:issues_case_change", args=[case.pk])).content.decode()
    assert 'id="id_location_map_map"' in html and "Delete all Features" not in html
    assert "SRID=4326;POINT" not in html  # not Django's WKT text
