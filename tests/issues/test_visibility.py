"""Who sees what (issues.visibility, docs/SECURITY.md "Who sees what"): every class of data of a
case, for every role, read through every surface that shows it.

Three cases, each made the ordinary way (intake, then lifecycle actions):

* PUBLIC: street garbage (E0101) at Huaifang, reported by rider1 and rider2 from the app with a
  photo each, and by an Open311 client with a contact phone; filed, dispatched to the
  housekeeper team, accepted by hk_vol1, escalated by the office to 城管 (chengguan), handed in
  by its liaison with a note and a proof photo, verified.
* PRIVATE: an elderly resident in difficulty (L0101, 邻里守望), the same way: the sunset team,
  then the residents' committee.
* UNION: a rider's own need (L0201, 骑手诉求): dispatched to the union on intake, replied to.

Each role reads everything it can reach (case detail and events, its reports, tasks and feed,
the public listings, nearby cases, Open311) and the words it finds there are compared with the
table below; every photo URL is fetched in every rendition.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile

from issues.models import Case, CaseConfirmation, Report, ReportPhoto
from issues.services.intake import (
    APP_CHANNEL,
    OPEN311_CHANNEL,
    ReportContact,
    ReportInput,
    report_create,
)
from issues.visibility import UNION_TASK_KIND
from patrol.models import Department, Task
from tests.issues.helpers import assert_error_shape, jpeg
from tests.patrol.helpers import (
    API,
    HUAIFANG,
    act,
    client_for,
    community_points,
    proof_photo,
    user,
)

pytestmark = pytest.mark.django_db

# Words each class of data carries, so that a body can be searched for them. Phone numbers
# and door numbers are what riders and workers really write there.
WORDS = {
    "description_own": "DESC-OWN 3号楼2单元 13800138001",  # rider1's report
    "description_other": "DESC-OTHER 王阿姨 13800138002",  # rider2's report
    "workers_notes": "NOTE-HANDIN 张师傅 13700137000",  # the hand-in note (task and event)
    "escalation_note": "NOTE-ESCALATE 需要执法",  # the office's reason to escalate (event)
    "contact_phone": "13912349876",  # the Open311 reporter's phone (reporter identity)
    "reply": "REPLY-UNION 已协调北门停车位",  # the union's reply to a rider's need
}

ROLES = {
    "anonymous": None,
    "reporter": "rider1",
    "co_reporter": "rider2",  # reported the same case
    "other_rider": "rider3",
    "other_volunteer": "cw_vol1",  # civility_west: no task on any of the cases
    "handling_volunteer": None,  # per case (HANDLERS)
    "handling_leader": None,
    "handling_liaison": None,
    "other_liaison": "liaison_municipal",
    "office_staff": "office1",
    "union_staff": "union1",
    "admin": "admin",
}
HANDLERS = {
    "public": {"handling_volunteer": "hk_vol1", "handling_leader": "hk_lead",
               "handling_liaison": "liaison_chengguan"},
    "private": {"handling_volunteer": "ss_vol1", "handling_leader": "ss_lead",
                "handling_liaison": "liaison_residents_committee"},
    # Nobody but the union handles a rider's need: the team roles are outsiders here.
    "union": {"handling_volunteer": "hk_vol1", "handling_leader": "hk_lead",
              "handling_liaison": "liaison_chengguan"},
}

EVERYONE = set(ROLES)
OFFICE = {"office_staff", "admin"}
HANDLING = {"handling_volunteer", "handling_leader", "handling_liaison"}
REPORTERS = {"reporter", "co_reporter"}

# What each role sees of each class of data, per case: the table of docs/SECURITY.md.
SEES: dict[str, dict[str, set[str]]] = {
    "public": {
        "case": EVERYONE,
        "position": EVERYONE,
        "reporter_identity": OFFICE,
        "contact_phone": OFFICE,
        "description_own": OFFICE | HANDLING | {"reporter"},
        "description_other": OFFICE | HANDLING | {"co_reporter"},
        "workers_notes": OFFICE | HANDLING,
        "escalation_note": OFFICE | HANDLING,
        "photo_own": EVERYONE,
        "photo_other": EVERYONE,
        "proof_photo": EVERYONE,
        "originals": OFFICE,
    },
    "private": {
        "case": OFFICE | HANDLING | REPORTERS,
        "position": OFFICE | HANDLING | REPORTERS,
        "reporter_identity": OFFICE,
        "contact_phone": OFFICE,
        "description_own": OFFICE | HANDLING | {"reporter"},
        "description_other": OFFICE | HANDLING | {"co_reporter"},
        "workers_notes": OFFICE | HANDLING,
        "escalation_note": OFFICE | HANDLING,
        "photo_own": OFFICE | HANDLING | {"reporter"},
        "photo_other": OFFICE | HANDLING | {"co_reporter"},
        "proof_photo": OFFICE | HANDLING,
        "originals": OFFICE,
    },
    "union": {
        "case": OFFICE | {"union_staff"} | REPORTERS,
        "position": OFFICE | {"union_staff"} | REPORTERS,
        "reporter_identity": OFFICE | {"union_staff"},
        "contact_phone": OFFICE | {"union_staff"},
        "description_own": OFFICE | {"union_staff", "reporter"},
        "description_other": OFFICE | {"union_staff", "co_reporter"},
        "reply": OFFICE | {"union_staff"} | REPORTERS,  # written to the reporters
        "photo_own": OFFICE | {"union_staff", "reporter"},
        "photo_other": OFFICE | {"union_staff", "co_reporter"},
        "originals": OFFICE,
    },
}

CATEGORY = {"public": "E0101", "private": "L0101", "union": "L0201"}
POINT = {"public": 0, "private": 3, "union": 6}  # lattice points of Huaifang, ~213 m apart


@dataclass
class World:
    kind: str
    case: Case
    photos: dict[str, ReportPhoto]  # photo_own, photo_other, proof_photo
    report_ids: list[int]


def _ready(photo: ReportPhoto) -> ReportPhoto:
    """Display copy and thumbnail made, as the photo job would leave them."""
    photo.display.save(f"public/display/t-{photo.pk}.jpg", ContentFile(jpeg((40, 30))),
                       save=False)
    photo.thumbnail.save(f"public/thumbnails/t-{photo.pk}.jpg", ContentFile(jpeg((20, 15))),
                         save=False)
    photo.status = ReportPhoto.Status.READY
    photo.save(update_fields=["display", "thumbnail", "status"])
    return photo


def _app_report(kind: str, username: str, words: str) -> Report:
    lon, lat = community_points(HUAIFANG)[POINT[kind]]
    data = ReportInput(category_code=CATEGORY[kind], lon=lon, lat=lat, description=words,
                       client_uuid=uuid.uuid4(), photos=[io.BytesIO(jpeg(colour=(9, 9, 9)))])
    return report_create(channel=APP_CHANNEL, data=data, reporter=user(username)).report


def _open311_report(kind: str) -> Report:
    """A 311 client's report of the case (no rider account), with the resident's phone."""
    lon, lat = community_points(HUAIFANG)[POINT[kind]]
    data = ReportInput(category_code=CATEGORY[kind], lon=lon, lat=lat,
                       contact=ReportContact(phone=WORDS["contact_phone"]))
    return report_create(channel=OPEN311_CHANNEL, data=data, reporter=None).report


def world_make(kind: str) -> World:
    own = _app_report(kind, "rider1", WORDS["description_own"])
    other = _app_report(kind, "rider2", WORDS["description_other"])
    third = _open311_report(kind)
    case = own.case
    assert other.case_id == third.case_id == case.pk
    photos = {"photo_own": _ready(own.photos.get()), "photo_other": _ready(other.photos.get())}
    if kind == "union":  # dispatched to the union on intake
        assert Task.objects.get(case=case).assignee_kind == UNION_TASK_KIND
        act(case, "reply", "union1", note=WORDS["reply"])
    else:
        team, leader = ("housekeeper", "hk_lead") if kind == "public" else ("sunset", "ss_lead")
        department = "chengguan" if kind == "public" else "residents_committee"
        liaison = HANDLERS[kind]["handling_liaison"]
        act(case, "file", "office1")
        act(case, "dispatch", "office1")
        assert Task.objects.get(case=case).team.code == team
        act(case, "accept", HANDLERS[kind]["handling_volunteer"])
        act(case, "escalate", leader, reason=WORDS["escalation_note"],
            department=Department.objects.get(code=department).pk)
        act(case, "accept", liaison)
        act(case, "handin", liaison, note=WORDS["workers_notes"], photo=proof_photo())
        act(case, "verify", "office2")
        proof = Task.objects.get(case=case, department__code=department).proof_photo
        photos["proof_photo"] = _ready(proof)
    return World(kind=kind, case=Case.objects.get(pk=case.pk), photos=photos,
                 report_ids=[own.pk, other.pk, third.pk])


def username_of(kind: str, role: str) -> str | None:
    return HANDLERS[kind].get(role, ROLES[role])


def everything_read(world: World, username: str | None) -> tuple[str, dict]:
    """Every body the user can get that may show this case, joined; and the case detail."""
    client = client_for(username)
    case = world.case
    lon, lat = community_points(HUAIFANG)[POINT[world.kind]]
    gets = [
        f"{API}/cases/{case.pk}/", f"{API}/cases/{case.pk}/events/",
        f"{API}/me/reports/", f"{API}/tasks/?include_closed=true", f"{API}/notifications/",
        f"{API}/cases/", f"{API}/reports/",
        f"{API}/reports/nearby/?lon={lon}&lat={lat}&category={CATEGORY[world.kind]}",
        "/open311/v2/requests.json?extensions=true",
        *(f"/open311/v2/requests/{pk}.json?extensions=true" for pk in world.report_ids),
    ]
    texts, detail = [], {}
    for path in gets:
        answer = client.get(path)
        if answer.status_code == 200:
            texts.append(answer.content.decode())
            if path == gets[0]:
                detail = answer.json()
    return "\n".join(texts), detail


def _status(client, photo: ReportPhoto, rendition: str) -> int:
    answer = client.get(f"{API}/photos/{photo.pk}/{rendition}/")
    if answer.status_code != 200:
        assert_error_shape(answer)
    return answer.status_code


MATRIX = [pytest.param(kind, role, id=f"{kind}-{role}") for kind in SEES for role in ROLES]


@pytest.mark.parametrize(("kind", "role"), MATRIX)
def test_each_role_sees_exactly_its_share_of_each_class_of_data(reference_data, media_root,
                                                                kind, role):
    world = world_make(kind)
    username = username_of(kind, role)
    text, detail = everything_read(world, username)
    expected = SEES[kind]
    seen: dict[str, bool] = {
        "case": bool(detail) or (kind == "public" and f'"case": {world.case.pk}' in text),
        "position": str(detail.get("lon", "—")) in text or (
            kind == "public" and any(f'"id": {pk}' in text for pk in world.report_ids)
            and '"coordinates"' in text),
        "reporter_identity": any("reporter" in report for report in detail.get("reports", ()))
        or '"actor"' in text,
    }
    for name in ("description_own", "description_other", "workers_notes", "escalation_note",
                 "contact_phone", "reply"):
        if name in expected:
            seen[name] = WORDS[name] in text
    client = client_for(username)
    for name, photo in world.photos.items():
        statuses = {_status(client, photo, rendition) for rendition in ("display", "thumbnail")}
        assert len(statuses) == 1, (name, statuses)  # both renditions alike
        seen[name] = statuses == {200}
    seen["originals"] = all(_status(client, photo, "original") == 200
                            for photo in world.photos.values())
    if not seen["originals"]:
        assert not any(_status(client, photo, "original") == 200
                       for photo in world.photos.values())

    wrong = {name: ("sees" if shown else "does not see")
             for name, shown in seen.items() if shown != (role in expected[name])}
    assert not wrong, f"{role} ({username}) of the {kind} case: {wrong}"


def test_the_union_task_kind_named_by_visibility_is_patrols():
    """issues.visibility names the union's tasks by value (issues never imports patrol)."""
    assert UNION_TASK_KIND == Task.AssigneeKind.UNION


# --- the holes, one by one (each failed before the fix) ---------------------------------------


def test_a_hand_in_photo_of_a_private_case_is_hidden_like_the_case(reference_data, media_root):
    """Hole 4: a proof photo (no report) of a private case was served to any signed-in user."""
    world = world_make("private")
    proof = world.photos["proof_photo"]
    for outsider in ("rider3", "cw_vol1", "liaison_municipal", "union1"):
        client = client_for(outsider)
        assert client.get(f"{API}/cases/{world.case.pk}/").status_code == 404
        assert _status(client, proof, "display") == 404, outsider
        assert _status(client, proof, "thumbnail") == 404, outsider
    assert _status(client_for("ss_vol1"), proof, "display") == 200


def test_another_rider_reads_a_public_case_without_the_others_words(reference_data,
                                                                    media_root):
    """Hole 5: descriptions of other riders and the workers' notes were in the case's detail,
    its events and the reporter's closing notification."""
    world = world_make("public")
    rider3 = client_for("rider3")
    detail = rider3.get(f"{API}/cases/{world.case.pk}/").json()
    assert [report["description"] for report in detail["reports"]] == [None, None, None]
    assert [task["note"] for task in detail["tasks"]] == [None, None]
    events = rider3.get(f"{API}/cases/{world.case.pk}/events/").json()["events"]
    assert {event["note"] for event in events} == {None}
    feed = json.dumps(client_for("rider1").get(f"{API}/notifications/").json())
    assert WORDS["workers_notes"] not in feed
    mine = client_for("rider1").get(f"{API}/cases/{world.case.pk}/").json()
    assert [report["description"] for report in mine["reports"]] == [
        WORDS["description_own"], None, None]


def test_private_photos_follow_who_handles_the_case_not_the_union(reference_data, media_root):
    """Hole 9: union staff saw the photos of every private category, the handling team none."""
    world = world_make("private")
    photo = world.photos["photo_own"]
    assert _status(client_for("union1"), photo, "display") == 404
    for handler in ("ss_vol1", "ss_lead", "liaison_residents_committee"):
        assert _status(client_for(handler), photo, "display") == 200, handler


def test_both_reporters_read_the_unions_reply_to_their_need(reference_data, media_root):
    """The union's reply is written to the askers: their history and closing notice carry it."""
    world_make("union")
    history = client_for("rider2").get(f"{API}/me/reports/").json()["features"][0][
        "properties"]["history"]
    assert [entry["note"] for entry in history if entry["action"] == "reply"] == [
        WORDS["reply"]]
    closed = [item for item in client_for("rider1").get(f"{API}/notifications/").json()[
        "notifications"] if item["kind"] == "case_closed"]
    assert [item["data"]["note"] for item in closed] == [WORDS["reply"]]


def test_a_proof_photo_of_no_case_is_the_offices_only(reference_data, media_root):
    """A stored photo that no report, task or confirmation holds (e.g. its hand-in undone)."""
    world = world_make("public")
    task = Task.objects.get(proof_photo=world.photos["proof_photo"])
    Task.objects.filter(pk=task.pk).update(proof_photo=None)
    proof = world.photos["proof_photo"]
    assert _status(client_for("office1"), proof, "display") == 200
    for username in (None, "rider1", "liaison_chengguan"):
        assert _status(client_for(username), proof, "display") == 404, username


@pytest.mark.parametrize(("kind", "username", "most"), [
    # The photo, then its report with the case: a public case needs no access query.
    ("public", None, 2),
    # With a token: the token and user, the user's groups, then the handlers' EXISTS.
    ("private", "ss_vol1", 5),
    ("private", "rider3", 5),
])
def test_the_photo_view_asks_the_rule_in_a_few_queries(reference_data, media_root,
                                                       django_assert_max_num_queries, kind,
                                                       username, most):
    """Every thumbnail of a list is one request: the rule must stay cheap."""
    world = world_make(kind)
    client = client_for(username)
    with django_assert_max_num_queries(most):
        client.get(f"{API}/photos/{world.photos['photo_own'].pk}/thumbnail/")


@pytest.mark.parametrize("username", ["rider3", "hk_vol1", "office1"])
def test_the_case_detail_applies_the_rule_without_a_query_per_report(
        reference_data, media_root, django_assert_max_num_queries, username):
    """Three reports and two tasks: the case with its prefetches (reports, their photos and
    categories, tasks with team, department and proof photo), the access facts once, the
    allowed actions, the token and the groups: 14 at most, whatever the number of reports."""
    world = world_make("public")
    client = client_for(username)
    with django_assert_max_num_queries(14):
        assert client.get(f"{API}/cases/{world.case.pk}/").status_code == 200


def test_a_confirmation_photo_is_as_visible_as_its_public_case(reference_data, media_root):
    """Only open public cases can be confirmed: the photo's renditions are everyone's, its
    original the office's."""
    lon, lat = community_points(HUAIFANG)[POINT["public"]]
    case = report_create(channel=OPEN311_CHANNEL, reporter=None, data=ReportInput(
        category_code="E0101", lon=lon, lat=lat)).report.case
    client_for("rider3").post(f"{API}/cases/{case.pk}/confirm/",
                              {"photo": proof_photo(), "lon": lon, "lat": lat,
                               "coord_system": "wgs84"}, format="multipart")
    photo = _ready(CaseConfirmation.objects.get(case=case, rider__username="rider3").photo)
    for username in (None, "rider1", "cw_vol1", "rider3"):
        assert _status(client_for(username), photo, "thumbnail") == 200, username
        assert _status(client_for(username), photo, "original") == 404, username
    assert _status(client_for("office1"), photo, "original") == 200
