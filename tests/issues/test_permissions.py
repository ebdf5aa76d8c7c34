"""Who may call each rider-reporting endpoint, role by role, and what the listings never show.

Roles are the demo users of fixtures/demo_people.json, each with its DRF token.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from issues.models import ReportPhoto
from tests.issues.helpers import (
    CASES_URL,
    CATEGORIES_URL,
    CHENGYUAN,
    HUAIFANG,
    MY_REPORTS_URL,
    NEARBY_URL,
    REPORTS_URL,
    RIDER_DISPLAY_NAMES,
    ROLE_USERS,
    assert_error_shape,
    body,
    client_for,
    confirm_form,
    confirm_url,
    jpeg,
    photo_url,
    post_report_at,
    stored_snapshot,
)

pytestmark = pytest.mark.django_db

ROLES = list(ROLE_USERS)  # anonymous, rider, volunteer, team_leader, office_staff, ...
NON_RIDERS = [role for role in ROLES if role not in ("anonymous", "rider")]
MARKER = "ZZ-words-only-the-office-may-read"


def _rider_only(role: str, ok: int) -> int:
    return {"anonymous": 401, "rider": ok}.get(role, 403)


@pytest.fixture
def scene(reference_data, media_root):
    """rider2 reported a street lamp (public, with a photo) and a rider-parking problem (private,
    with a photo) at Huaifang, and garbage at Chengyuan. Returns ids and the secrets that no
    public answer may contain."""
    reporter = client_for("rider2")
    made = {}
    for name, point, category in [("lamp", HUAIFANG, "C0103"),
                                  ("parking", HUAIFANG, "L0201"),
                                  ("garbage", CHENGYUAN, "E0101")]:
        response = post_report_at(reporter, point, category=category,
                                  description=f"{MARKER} {name}",
                                  photos=[jpeg(colour=(len(name) * 20, 0, 0))])
        assert response.status_code == 201, response.content
        made[name] = body(response)
    secrets = [MARKER, "rider2", RIDER_DISPLAY_NAMES["rider2"],
               *(feature["properties"]["client_uuid"] for feature in made.values())]
    return made, secrets


def _assert_no_secrets(response, secrets: list[str]) -> None:
    text = response.content.decode()
    for secret in secrets:
        assert secret not in text
    assert "L0201" not in text and "L01" not in text


# --- public reads -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_categories_are_readable_by_every_role(reference_data, role):
    response = client_for(ROLE_USERS[role]).get(CATEGORIES_URL)

    assert response.status_code == 200
    assert len(body(response)) == 47


@pytest.mark.parametrize("url", [REPORTS_URL, CASES_URL])
@pytest.mark.parametrize("role", ROLES)
def test_public_listings_answer_every_role_without_people_or_private_reports(scene, role, url):
    made, secrets = scene

    response = client_for(ROLE_USERS[role]).get(url)

    assert response.status_code == 200
    features = body(response)["features"]
    assert len(features) == 2  # lamp and garbage; never the private parking report
    _assert_no_secrets(response, secrets)
    for feature in features:
        assert not {"reporter", "client_uuid", "description", "contact_email", "contact_phone",
                    "device_id", "account_id"} & set(feature["properties"])


@pytest.mark.parametrize("role", ROLES)
def test_nearby_needs_a_login_and_hides_people(scene, role):
    made, secrets = scene

    response = client_for(ROLE_USERS[role]).get(
        NEARBY_URL, {"lon": str(HUAIFANG[0]), "lat": str(HUAIFANG[1]), "category": "C0103"})

    if role == "anonymous":
        assert response.status_code == 401
        assert_error_shape(response)
        return
    assert response.status_code == 200
    assert [case["id"] for case in body(response)["cases"]] == [made["lamp"]["properties"]["case"]]
    _assert_no_secrets(response, secrets)


# --- rider-only writes and reads ----------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_riders_may_post_a_report(reference_data, media_root, role):
    before = stored_snapshot()

    response = post_report_at(client_for(ROLE_USERS[role]), HUAIFANG)

    assert response.status_code == _rider_only(role, 201)
    if role != "rider":
        assert_error_shape(response)
        assert stored_snapshot() == before


@pytest.mark.parametrize("role", ROLES)
def test_only_riders_may_confirm_a_case(scene, role):
    made, _secrets = scene
    case_id = made["lamp"]["properties"]["case"]
    before = stored_snapshot()

    response = client_for(ROLE_USERS[role]).post(confirm_url(case_id), confirm_form())

    assert response.status_code == _rider_only(role, 201)
    if role != "rider":
        assert_error_shape(response)
        assert stored_snapshot() == before


@pytest.mark.parametrize("role", ROLES)
def test_only_riders_have_my_reports_and_see_only_their_own(scene, role):
    made, _secrets = scene
    mine = post_report_at(client_for("rider1"), CHENGYUAN, category="L0202", photos=[])
    assert mine.status_code == 201

    response = client_for(ROLE_USERS[role]).get(MY_REPORTS_URL)

    assert response.status_code == _rider_only(role, 200)
    if role == "rider":
        assert [feature["id"] for feature in body(response)["features"]] == [body(mine)["id"]]
        text = response.content.decode()
        assert MARKER not in text and "rider2" not in text


# --- photos -------------------------------------------------------------------------------------

DISPLAY_BYTES = jpeg((80, 60), colour=(1, 2, 250))
THUMBNAIL_BYTES = jpeg((32, 24), colour=(250, 2, 1))


def _photo_ready(report_id: int) -> ReportPhoto:
    """The report's photo with a display copy and thumbnail, as the Celery task would leave it."""
    photo = ReportPhoto.objects.get(report_id=report_id)
    photo.display.save(f"public/display/test-{photo.pk}.jpg", ContentFile(DISPLAY_BYTES),
                       save=False)
    photo.thumbnail.save(f"public/thumbnails/test-{photo.pk}.jpg", ContentFile(THUMBNAIL_BYTES),
                         save=False)
    photo.status = ReportPhoto.Status.READY
    photo.save(update_fields=["display", "thumbnail", "status"])
    return photo


def _content(response) -> bytes:
    return b"".join(response.streaming_content)


def _denied(response) -> None:
    # Denied without saying whether the photo exists: 404 (or 403), in the error shape.
    assert response.status_code in (403, 404)
    assert_error_shape(response)


PHOTO_ROLES = [*ROLES, "other_rider"]


def _photo_client(role: str):
    return client_for("rider3" if role == "other_rider" else ROLE_USERS[role])


@pytest.mark.parametrize("role", PHOTO_ROLES)
def test_public_photo_display_and_thumbnail_are_open_to_everyone(scene, role):
    made, _secrets = scene
    photo = _photo_ready(made["lamp"]["id"])
    client = _photo_client(role)

    display = client.get(photo_url(photo.pk, "display"))
    thumbnail = client.get(photo_url(photo.pk, "thumbnail"))

    assert display.status_code == 200
    assert display["Content-Type"] == "image/jpeg"
    assert _content(display) == DISPLAY_BYTES
    assert thumbnail.status_code == 200
    assert _content(thumbnail) == THUMBNAIL_BYTES


ORIGINAL_ALLOWED = {"office_staff", "admin"}


@pytest.mark.parametrize("category", ["lamp", "parking"])
@pytest.mark.parametrize("role", PHOTO_ROLES)
def test_original_photo_is_for_office_staff_and_admin_only(scene, role, category):
    made, _secrets = scene
    photo = _photo_ready(made[category]["id"])
    with photo.original.open("rb") as handle:
        original_bytes = handle.read()

    response = _photo_client(role).get(photo_url(photo.pk, "original"))

    if role in ORIGINAL_ALLOWED:
        assert response.status_code == 200
        assert _content(response) == original_bytes
    else:
        _denied(response)


# The reporter here is rider2 (role "other_rider" is rider3, "rider" is rider1).
PRIVATE_DISPLAY_ALLOWED = {"reporter", "union_staff", "office_staff", "admin"}


@pytest.mark.parametrize("rendition", ["display", "thumbnail"])
@pytest.mark.parametrize("role", [*ROLES, "other_rider", "reporter"])
def test_private_category_photo_is_for_its_reporter_union_and_office_staff(scene, role,
                                                                           rendition):
    made, _secrets = scene
    photo = _photo_ready(made["parking"]["id"])
    client = client_for("rider2") if role == "reporter" else _photo_client(role)

    response = client.get(photo_url(photo.pk, rendition))

    if role in PRIVATE_DISPLAY_ALLOWED:
        assert response.status_code == 200
        expected = DISPLAY_BYTES if rendition == "display" else THUMBNAIL_BYTES
        assert _content(response) == expected
    else:
        _denied(response)


@pytest.mark.parametrize("role", ["anonymous", "rider", "volunteer"])
def test_private_photo_of_a_report_without_a_reporter_is_not_public(reference_data, media_root,
                                                                    role):
    # A report from a channel without a rider account (Open311) has no reporter: nobody but
    # union and office staff may see its private photo, least of all an anonymous visitor.
    import io

    from issues.services.intake import OPEN311_CHANNEL, ReportInput, report_create

    result = report_create(
        channel=OPEN311_CHANNEL,
        data=ReportInput(category_code="L0101", description="老人摔倒", lon=HUAIFANG[0],
                         lat=HUAIFANG[1], photos=[io.BytesIO(jpeg(colour=(5, 5, 5)))]),
        reporter=None,
    )
    assert result.report.reporter_id is None
    photo = _photo_ready(result.report.pk)

    response = client_for(ROLE_USERS[role]).get(photo_url(photo.pk, "display"))

    _denied(response)


def test_photo_not_yet_processed_is_404(scene):
    made, _secrets = scene
    photo = ReportPhoto.objects.get(report_id=made["lamp"]["id"])  # still pending

    response = client_for(None).get(photo_url(photo.pk, "display"))

    assert response.status_code == 404
    assert_error_shape(response)


def test_unknown_photo_is_404_in_the_error_shape(reference_data):
    response = client_for("office1").get(photo_url(987654321, "display"))

    assert response.status_code == 404
    assert_error_shape(response)
