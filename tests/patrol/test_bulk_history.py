"""The lifecycle bulk path leaves the rows the services leave, step for step.

A small history — the seed_demo reference data, a second 南苑管家 team overlapping the first (so
that "the team with the fewest live tasks" decides), a few routing rules of every kind, and about
190 reports of every category through ``reports_bulk_load``, a quarter of the problems reported
twice — is planned once. The plan is applied (a) by the bulk writer and (b) by replaying the same
steps through ``case_act`` (and ``case_auto_dispatch`` for dispatch at intake), each inside a
savepoint that is rolled back. The rows must be equal: cases, tasks, events, ratings and the
riders' points (with a daily cap low enough to bite). By design (patrol/services/bulk_history.py):

* the bulk path stores no proof photo (the replay must send one: a hand-in needs it);
* the bulk path writes no notifications;
* ``updated_at``: the bulk path keeps the later of the last report and the last action; a
  replay after the reports' bulk load can only show the last action.
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from PIL import Image

from civicmap.models import CommunityGrid
from civicmap.roles import Role
from fixtures.history import HistoryPlan, history_drafts
from fixtures.seed import synthetic_riders_ensure
from issues.models import OPEN_STAGES, Case, CaseEvent, Category, Rider, Stage
from issues.services.bulk import reports_bulk_load
from patrol.models import Department, RoutingRule, Task, VolunteerTeam
from patrol.routing import route_for_case
from patrol.services.bulk_history import (
    AUTO_DISPATCH,
    LifeProfile,
    RouteIds,
    case_histories_bulk_apply,
    cases_load,
    histories_plan,
    reference_load,
)
from patrol.services.lifecycle import case_act, case_auto_dispatch

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 18, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
SEED = 2
# Rare turns made common, so that 100-odd cases show every one of them.
PROFILE = LifeProfile(cancel=0.1, stuck_offer=0.08, late_accept=0.25, escalate=0.3,
                      stuck_work=0.08, late_handin=0.3, sendback=0.3, rate=0.6,
                      second_rater=0.6)
EVERY_ACTION = {AUTO_DISPATCH, "file", "cancel", "dispatch", "accept", "start", "handin",
                "sendback", "verify", "reply", "escalate", "rate", "evaluate"}


class _Rollback(Exception):
    pass


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def small_history(reference_data) -> None:
    """150 reports over 40 days, every category, in a deployment with overlapping teams."""
    User = get_user_model()
    volunteers = Group.objects.get(name=Role.VOLUNTEER.value)
    leader = User.objects.create(username="hkb_lead", first_name="管家二队队长")
    leader.groups.add(Group.objects.get(name=Role.TEAM_LEADER.value))
    members = [User.objects.create(username=f"hkb_vol{n}", first_name=f"管家二队{n}")
               for n in (1, 2)]
    for member in members:
        member.groups.add(volunteers)
    second = VolunteerTeam.objects.create(code="housekeeper_b", team_type="housekeeper",
                                          name_zh="南苑管家二队", name_en="Housekeeper B",
                                          leader=leader)
    second.members.set(members)
    communities = list(CommunityGrid.objects.order_by("code"))
    second.communities.set(communities[:8])  # both housekeeper teams serve these eight
    codes = {c.code: c for c in Category.objects.all()}
    RoutingRule.objects.create(category=codes["E0505"], community=communities[0],
                               target="department",
                               department=Department.objects.get(code="chengguan"))
    RoutingRule.objects.create(category=codes["C0303"], target="team",
                               team=VolunteerTeam.objects.get(code="sunset"))
    RoutingRule.objects.create(category=codes["E0506"], target="team_type",
                               team_type="housekeeper")
    RoutingRule.objects.create(category=codes["L0205"], community=communities[1],
                               target="union")
    synthetic_riders_ensure(count=12, seed=SEED)
    riders = list(Rider.objects.order_by("user_id").values_list("user_id", flat=True))
    drafts = history_drafts(plan=HistoryPlan(seed=SEED, now=NOW, reports=150, days=40),
                            rider_ids=riders)
    # Every other report takes the next category in turn (so that every category has cases);
    # the others keep the hotspot's category, so that reports merge into shared cases.
    ordered = sorted(codes)
    drafts = [dataclasses.replace(
        d, category_id=codes[ordered[n // 2 % len(ordered)]].pk if n % 2 else d.category_id,
        reporter_id=None if n % 11 == 0 else d.reporter_id) for n, d in enumerate(drafts)]
    # Every fourth problem is reported again by another rider 20 minutes later, about 5 m away:
    # cases with several reporters (confirmers' points).
    drafts += [dataclasses.replace(
        d, lon=d.lon + 0.00005, received_at=d.received_at + timedelta(minutes=20),
        reporter_id=riders[(riders.index(d.reporter_id) + 1) % len(riders)]
        if d.reporter_id else riders[0],
        client_uuid=uuid.UUID(int=n, version=4)) for n, d in enumerate(drafts) if n % 4 == 0]
    reports_bulk_load(drafts=drafts)


def _dump() -> dict:
    """The rows both paths write; task ids renumbered by creation order (sequences differ)."""
    queries = {
        "cases": """SELECT id, stage, closed_at, updated_at, cancel_reason, last_report_at
                    FROM issues_case ORDER BY id""",
        "tasks": """SELECT id, case_id, assignee_kind, team_id, department_id, assignee_id,
                           status, offered_at, response_due, resolution_due, accepted_at,
                           handed_in_at, handed_in_by_id, finished_at, note, decline_reason,
                           response_alerted_at, resolution_alerted_at, proof_photo_id
                    FROM patrol_task ORDER BY id""",
        "events": """SELECT case_id, task_id, actor_id, action, from_stage, to_stage, note,
                            data::text, at
                     FROM issues_caseevent ORDER BY case_id, at, id""",
        "ratings": """SELECT case_id, rider_id, score, comment, created_at
                      FROM patrol_rating ORDER BY case_id, rider_id""",
        "points": """SELECT case_id, rider_id, points, reason, event_key, created_at
                     FROM issues_pointsentry ORDER BY case_id, rider_id""",
    }
    rows = {}
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql)
            rows[name] = cursor.fetchall()
    number = {row[0]: n for n, row in enumerate(rows["tasks"])}
    rows["photos"] = [row[-1] is not None for row in rows["tasks"]]
    rows["tasks"] = [(number[row[0]], *row[1:-1]) for row in rows["tasks"]]
    rows["events"] = [(*row[:1], number.get(row[1]), *row[2:]) for row in rows["events"]]
    return rows


def _bulk(profile: LifeProfile = PROFILE) -> tuple[dict, dict]:
    try:
        with transaction.atomic():
            summary = case_histories_bulk_apply(seed=SEED, now=NOW, profile=profile)
            rows = _dump()
            raise _Rollback
    except _Rollback:
        pass
    return summary, rows


def _replay(steps) -> dict:
    users = {user.pk: user for user in get_user_model().objects.all()}
    photo = _jpeg()
    try:
        with transaction.atomic():
            for step in steps:
                if step.action == AUTO_DISPATCH:
                    case = Case.objects.select_related("category").get(pk=step.case_id)
                    assert case_auto_dispatch(case=case, at=step.at) is not None
                    continue
                params = dict(step.params)
                if step.action == "handin":
                    params["photo"] = SimpleUploadedFile("proof.jpg", photo, "image/jpeg")
                case_act(case_id=step.case_id, action=step.action,
                         actor=users.get(step.actor_id), at=step.at, **params)
            rows = _dump()
            raise _Rollback
    except _Rollback:
        pass
    return rows


def test_bulk_rows_equal_the_services_replaying_the_same_plan(small_history, settings,
                                                               tmp_path):
    settings.MEDIA_ROOT = tmp_path  # the replay's proof photos
    settings.POINTS_DAILY_CAP = 12  # a first report and a confirmation in a day pass it
    reference = reference_load()
    steps = histories_plan(cases=cases_load(), reference=reference, seed=SEED, now=NOW,
                           profile=PROFILE)
    assert {step.action for step in steps} == EVERY_ACTION
    offered_to = {step.route.team_id for step in steps if step.route and step.route.team_id}
    assert VolunteerTeam.objects.get(code="housekeeper_b").pk in offered_to  # least busy
    assert VolunteerTeam.objects.get(code="housekeeper").pk in offered_to

    summary, bulk = _bulk()
    replay = _replay(steps)

    assert bulk["tasks"] == replay["tasks"]
    assert bulk["events"] == replay["events"]
    assert bulk["ratings"] == replay["ratings"]
    assert bulk["points"] == replay["points"]
    for ours, theirs in zip(bulk["cases"], replay["cases"], strict=True):
        case_id, stage, closed_at, updated_at, reason, last_report_at = theirs
        assert ours == (case_id, stage, closed_at, max(updated_at, last_report_at), reason,
                        last_report_at)
    # Hand-ins carry the replay's photo; union staff reply without one.
    assert replay["photos"] == [task[11] is not None and task[2] != "union"
                                for task in replay["tasks"]]
    assert not any(bulk["photos"])

    # The history has the stages (a case rests "filed" for hours only: it may be missing), and
    # tasks past each deadline at NOW.
    assert set(summary["stages"]) >= {stage.value for stage in Stage} - {"filed"}
    assert summary["overdue_response"] > 0 and summary["overdue_resolution"] > 0
    assert summary["ratings"] == len(bulk["ratings"]) > 0
    assert {"first_reporter", "confirmer", "confirmer_capped"} <= {row[3]
                                                                  for row in bulk["points"]}


def test_routing_replica_gives_route_for_case_for_every_category_and_community(small_history):
    _bulk()  # rolled back: live counts below come from a fresh apply
    case_histories_bulk_apply(seed=SEED, now=NOW, profile=PROFILE)
    reference = reference_load()
    assert any(reference.live_counts.values())
    communities = [*CommunityGrid.objects.values_list("pk", flat=True), None]
    checked = 0
    for category in Category.objects.all():
        for community in communities:
            expected = route_for_case(case=Case(category=category,
                                                community_grid_id=community))
            ours = reference.route(category.pk, community, reference.live_counts)
            assert ours == (None if expected is None else RouteIds(
                expected.kind, getattr(expected.team, "pk", None),
                getattr(expected.department, "pk", None))), (category.code, community)
            checked += 1
    assert checked == Category.objects.count() * len(communities)


def test_plan_is_deterministic_and_closes_no_case_before_its_last_report(small_history):
    reference, cases = reference_load(), cases_load()
    first = histories_plan(cases=cases, reference=reference, seed=SEED, now=NOW)
    assert histories_plan(cases=cases, reference=reference, seed=SEED, now=NOW) == first
    assert histories_plan(cases=cases, reference=reference, seed=SEED + 1, now=NOW) != first
    assert all(step.at < NOW for step in first)
    last_report = {case.id: case.last_report_at for case in cases}
    for step in first:
        if step.action in {"cancel", "verify", "reply"}:
            assert step.at > last_report[step.case_id]


def test_old_cases_are_mostly_finished_and_recent_ones_open(small_history):
    case_histories_bulk_apply(seed=SEED, now=NOW)
    ages = {case.pk: (NOW - case.created_at).days for case in Case.objects.all()}
    old = Case.objects.filter(pk__in=[pk for pk, days in ages.items() if days > 12])
    recent = Case.objects.filter(pk__in=[pk for pk, days in ages.items() if days < 3])
    assert old.exclude(stage__in=OPEN_STAGES).count() >= 0.7 * old.count()
    assert recent.filter(stage__in=OPEN_STAGES).count() >= 0.8 * recent.count()
    # Workers are members of the team their task was offered to; verifiers are office staff.
    for task in Task.objects.filter(team__isnull=False, assignee__isnull=False):
        assert task.team.members.filter(pk=task.assignee_id).exists()
    office = set(get_user_model().objects.filter(groups__name="office_staff")
                 .values_list("pk", flat=True))
    verifiers = set(CaseEvent.objects.filter(action="verify").values_list("actor", flat=True))
    assert verifiers and verifiers <= office


def test_seed_demo_gives_cases_a_life_unless_told_not_to(reference_data):
    options = dict(seed=11, now=NOW.isoformat(), reports=300, riders=8, no_progress=True)
    call_command("seed_demo", no_lifecycle=True, **options)
    assert not Task.objects.exists()
    assert set(Case.objects.values_list("stage", flat=True)) == {"new"}
    call_command("seed_demo", **options)
    assert Task.objects.exists()
    assert Case.objects.filter(stage__in=["closed", "evaluated"]).exists()
    assert Case.objects.filter(stage__in=OPEN_STAGES).exists()
