"""The phone pages: the rider's page (/rider/, an installable PWA) and the teams' page (/team/).

Both pages are shells: the HTML (categories and labels rendered here, in the request's
language) plus static JavaScript that talks to the API (/api/v1/…) with the user's DRF token,
kept in the browser's IndexedDB after one sign-in (the union's token QR code, the token typed,
or a username and password exchanged for the token at ``/phone/token/``).

The rider's page works offline: ``/rider/sw.js`` (a service worker scoped to /rider/) caches
the page and its assets; a report filed offline waits in IndexedDB with its ``client_uuid`` and
is sent when the network returns (frontend/static/frontend/phone/outbox.js).

No inline script runs: configuration and strings travel as a JSON data block (never executed),
so the pages satisfy frontend.csp without even needing the nonce.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from civicmap.api.tokens import TOKEN_QR_PREFIX
from civicmap.errors import FieldError, InvalidInput, RateLimited
from civicmap.i18n import name_field
from civicmap.logins import lockout_message, lockout_seconds
from civicmap.net import client_ip
from civicmap.roles import Role, user_has_role, user_is_rider
from frontend.csp import csp_protected
from frontend.maps.basemaps import BASEMAP_JS, basemap_configured, basemap_spec
from frontend.maps.console import event_labels
from issues.emergency import EMERGENCY_NUMBERS, category_emergency_numbers
from issues.models import CaseAction, Stage
from issues.selectors import category_list
from patrol.models import Task
from stations.tokens import CHECKIN_QR_PREFIX

MSG_BAD_CREDENTIALS = _("The username or password is not right.")
TOKEN_ATTEMPTS_PER_MINUTE = 10  # per client address: enough for typos, too few to guess

# Static files of each page (static paths): what the service worker keeps for offline use.
PHONE_COMMON_ASSETS = (
    "frontend/phone/phone.css",
    "frontend/phone/outbox.js",
    "frontend/phone/phone.js",
    "frontend/phone/icons.svg",
    "frontend/phone/icon-192.png",
)
# Loaded only when needed. Leaflet (a map opened) is kept by the service worker when it
# installs, so the pin can be moved offline; the QR reader (scanning without BarcodeDetector)
# only when first used: signing in and checking in need the network anyway.
PHONE_LAZY_ASSETS = (
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet/leaflet.css",
    BASEMAP_JS[1],
)
PHONE_ON_USE_ASSETS = ("vendor/jsqr/jsQR.js",)
RIDER_ASSETS = (*PHONE_COMMON_ASSETS, "frontend/phone/rider.js")
TEAM_ASSETS = (*PHONE_COMMON_ASSETS, "frontend/phone/team.js")
TEMPLATES = Path(__file__).resolve().parent / "templates" / "frontend"
RIDER_SCOPE = "/rider/"
SW_SOURCE = "frontend/phone/sw.js"
# The programme's colour (the office pages' bar), for the browser's toolbar and splash screen.
THEME_COLOUR = "#1f3a5f"


def phone_strings() -> dict[str, str]:
    """Every text the phone scripts show, in the active language (English source)."""
    strings = {
        "offline": _("Offline: reports wait on this phone and are sent later."),
        "online_again": _("Back online."),
        "signing_in": _("Signing in…"),
        "signed_in_as": _("Signed in as %(name)s"),
        "not_rider": _("This account is not a rider's: reports need a rider account."),
        "not_worker": _("This account has no team or department tasks."),
        "token_bad": _("This code was not accepted. Ask the union for your sign-in QR code."),
        "token_prefix_bad": _("This QR code is not a sign-in code."),
        "network_error": _("No connection to the server. Try again when online."),
        "server_error": _("The server could not do this now. Try again later."),
        "locating": _("Finding your position…"),
        "loc_device": _("Position from this phone (±%(m)s m)"),
        "loc_photo": _("Position from the photo"),
        "loc_map": _("Position set on the map"),
        "loc_none": _("No position yet: allow location, or set it on the map."),
        "loc_denied": _("Location is off for this page: set the place on the map."),
        "loc_needs_secure": _("Location needs HTTPS (or localhost)."),
        "loc_place_device": _("%(place)s (±%(m)s m)"),
        "loc_place_photo": _("%(place)s (from the photo)"),
        "loc_place_map": _("%(place)s (set on the map)"),
        "loc_outside": _("Outside the service area: move the pin to where the problem is."),
        "map_hint": _("Drag the pin to the exact place."),
        "photo_limit": _("At most %(n)s photos."),
        "photo_remove": _("Remove photo"),
        "photo_required": _("Add at least one photo."),
        "category_required": _("Choose a category."),
        "position_required": _("Set the position: allow location or use the map."),
        "choose_category": _("Choose a category"),
        "emergency_title": _("Danger to life? Call first, then report."),
        "emergency_call": _("Call %(number)s (%(name)s)"),
        "form_problems": _("Please check the marked fields."),
        "rate_score_required": _("Choose how many stars, from 1 to 5."),
        "private_note": _("Private: only the office and those who help see this report; it is "
                          "never shown on the public map."),
        "nearby_title": _("Already reported nearby?"),
        "nearby_none": _("No open case of this kind nearby."),
        "nearby_offline": _("Nearby cases show when online."),
        "distance_m": _("%(m)s m away"),
        "reports_n": _("%(n)s report(s)"),
        "confirm": _("Same problem: confirm it"),
        "confirmed": _("Thank you: you are now a confirmer of case %(id)s."),
        "already_confirmed": _("You had already confirmed case %(id)s."),
        "sending": _("Sending…"),
        "sent": _("Report sent: case %(id)s."),
        "queued": _("No network: the report waits on this phone and is sent when online."),
        "outbox_title": _("Waiting to send"),
        "outbox_empty": _("Nothing is waiting."),
        "outbox_waiting": _("Waiting"),
        "outbox_refused": _("Refused"),
        "outbox_send_now": _("Send now"),
        "outbox_delete": _("Delete"),
        "outbox_count": _("%(n)s waiting to send"),
        "outbox_sent_n": _("%(n)s waiting reports sent."),
        "kind_report": _("Report"),
        "kind_confirm": _("Confirmation of case %(id)s"),
        "mine_empty": _("You have not sent any report yet."),
        "case_n": _("Case %(id)s"),
        "team_note": _("The team's note"),
        "proof_photo": _("Proof photo"),
        "rate_title": _("How well was it solved?"),
        "rate_comment": _("Comment (optional)"),
        "rate_send": _("Send rating"),
        "rated": _("Thank you for the rating."),
        "stars": _("%(n)s of 5"),
        "history": _("History"),
        "show_details": _("Details"),
        "points_total": _("All points"),
        "points_month": _("This month (%(month)s)"),
        "points_empty": _("No points yet: points come when a case you reported or confirmed "
                          "is verified."),
        "points_unavailable": _("Points are not available."),
        "awards_empty": _("No award yet: the union names its Pioneer Riders (先锋骑手) each "
                          "month from the most active riders."),
        "award_of": _("%(month)s · %(place)s"),
        "award_certificate": _("Certificate (PDF)"),
        "stations_empty": _("No station found."),
        "stations_need_position": _("Stations nearest to you show once your position is known."),
        "walk_min": _("%(min)s min walk"),
        "open_now": _("Open now"),
        "closed_now": _("Closed now"),
        "today_hours": _("Today %(hours)s"),
        "today_closed": _("Closed today"),
        "hours_span": _("%(open)s–%(close)s"),
        "hours_next_day": _("%(open)s–%(close)s next day"),
        "reopens_today": _("reopens today %(time)s"),
        "reopens_tomorrow": _("reopens tomorrow %(time)s"),
        "reopens_on": _("reopens %(day)s %(time)s"),
        "reopens_date": _("reopens %(date)s %(time)s"),
        **{f"weekday_{day}": name for day, name in WEEKDAYS.items()},
        "nav_amap": _("Amap"),
        "nav_baidu": _("Baidu Maps"),
        "nav_geo": _("Other map app"),
        "nav_with": _("Navigate to %(name)s with %(app)s"),
        "list_empty": _("Nothing in this list."),
        "points_n": _("%(n)s points"),
        "board_district": _("The whole district"),
        "board_me": _("Your place: No. %(rank)s with %(points)s points."),
        "board_not_on": _("You are not on this board yet this month: points come when a case "
                          "you reported or confirmed is verified."),
        "board_you": _("%(name)s (you)"),
        "board_empty": _("Nobody has points here this month yet."),
        "board_no_home": _("Your community is not recorded: ask the union to add it."),
        "member_benefit": _("Member card benefit"),
        "card_none": _("You have no member card yet: ask the union to join."),
        "card_status_joined": _("Joined: card not issued yet"),
        "card_status_card_issued": _("Card issued"),
        "card_status_suspended": _("Suspended"),
        "card_no_number": _("Not issued yet"),
        "benefit_left": _("%(left)s of %(limit)s left this month"),
        "benefit_suspended": _("Not usable while the card is suspended"),
        "benefit_used": _("Benefit used: %(name)s."),
        "checkin_needs_position": _("Check-in needs your position: allow location."),
        "confirm_needs_position": _("Confirming needs your position: allow location."),
        "checkin_needs_network": _("Check-in needs a connection to the server."),
        "checkin_done": _("Checked in at %(name)s."),
        "checkin_again": _("Already counted this hour at %(name)s."),
        "scan_title": _("Point the camera at the QR code"),
        "scan_cancel": _("Cancel"),
        "scan_no_camera": _("The camera cannot be used here: take a photo of the code or type "
                            "it."),
        "scan_nothing": _("No QR code found in this photo."),
        "scan_from_photo": _("Take a photo of the code"),
        "due_in": _("due in %(time)s"),
        "overdue_by": _("overdue by %(time)s"),
        "hours_minutes": _("%(h)s h %(m)s min"),
        "days_hours": _("%(d)s d %(h)s h"),
        "minutes": _("%(m)s min"),
        "sort_nearest_needs_position": _("Allow location to sort by distance."),
        "note_required": _("Write a note."),
        "reason_required": _("Give a reason."),
        "handin_photo_required": _("A hand-in needs a proof photo."),
        "done_accept": _("Accepted."),
        "done_start": _("Started."),
        "done_handin": _("Handed in: the office will verify it."),
        "done_decline": _("Declined."),
        "new_mark": _("New"),
        "assigned_to_me": _("Assigned to me"),
        "done_assign": _("Given to %(name)s: they have been told."),
        "assign_member_required": _("Choose a member."),
        "section_empty_new": _("No new task."),
        "section_empty_in_progress": _("No task in progress."),
        "section_empty_overdue": _("No overdue task."),
        "navigate": _("Navigate"),
        "open_in_amap": _("Open in Amap"),
        "no_photos": _("No photos."),
        "loading": _("Loading…"),
        "saved_copy": _("Offline: showing the copy saved at %(time)s."),
        "install_ok": _("Installed."),
        "signed_out": _("Signed out."),
        "inbox_empty": _("No messages yet: news of your reports and tasks comes here."),
        "inbox_unread": _("unread"),
        "inbox_new": _("New"),
        "inbox_offline": _("Messages show when online."),
        "inbox_gone": _("This is no longer in your list."),
        "inbox_open_offline": _("This cannot be opened offline."),
        "sign_out_waiting": _("%(n)s reports are still waiting to send: they will be deleted. "
                              "Sign out anyway?"),
    }
    return {key: str(value) for key, value in strings.items()}


def _labels() -> dict[str, dict[str, str]]:
    return {
        "stages": {code: str(label) for code, label in Stage.choices},
        "task_statuses": {code: str(label) for code, label in Task.Status.choices},
        "events": {code: str(label) for code, label in event_labels().items()},
        "actions": {
            CaseAction.ACCEPT: str(pgettext_lazy("task action", "Accept")),
            CaseAction.START: str(pgettext_lazy("task action", "Start work")),
            CaseAction.HANDIN: str(pgettext_lazy("task action", "Hand in")),
            CaseAction.DECLINE: str(pgettext_lazy("task action", "Decline")),
        },
    }


def _basemap_config(request: HttpRequest) -> dict:
    language = translation.get_language() or settings.LANGUAGE_CODE
    basemap = basemap_configured(language=language)
    request.csp_image_hosts = basemap.image_hosts  # type: ignore[attr-defined]
    return {
        **basemap_spec(basemap), "key": basemap.key, "gcj02": basemap.gcj02,
        "tiles": [{"url": tile.url, "attribution": tile.attribution,
                   "subdomains": tile.subdomains, "max_zoom": tile.max_zoom}
                  for tile in basemap.tiles],
    }


def _page_config(request: HttpRequest, *, page: str) -> dict:
    return {
        "page": page,
        "lang": translation.get_language() or settings.LANGUAGE_CODE,
        "api": "/api/v1/",
        "token_url": reverse("frontend:phone-token"),
        "me_url": reverse("frontend:phone-me"),
        "sw_url": reverse("frontend:rider-sw") if page == "rider" else None,
        "sw_scope": RIDER_SCOPE if page == "rider" else None,
        "token_prefix": TOKEN_QR_PREFIX,
        "station_prefix": CHECKIN_QR_PREFIX,
        "assets": {
            "icons": static("frontend/phone/icons.svg"),
            "leaflet_js": static("vendor/leaflet/leaflet.js"),
            "leaflet_css": static("vendor/leaflet/leaflet.css"),
            "basemap_js": static(BASEMAP_JS[1]),
            "jsqr": static("vendor/jsqr/jsQR.js"),
        },
        # Where the map opens when there is no position yet: Nanyuan, near Huaifang (WGS 84).
        "home": {"lon": 116.392, "lat": 39.797},
        "basemap": _basemap_config(request),
        "strings": phone_strings(),
        "labels": _labels(),
        "emergency_numbers": {number: str(name) for number, name in EMERGENCY_NUMBERS.items()},
    }


def rider_kind_labels() -> dict[str, str]:
    """A category's kind (``issues.models.Category.kind``) in words a rider uses: the standard's
    部件 and 事件 (components, events) mean nothing on the street."""
    return {"C": pgettext("category kind, for riders", "Damaged facilities"),
            "E": pgettext("category kind, for riders", "Problems on the street"),
            "L": pgettext("category kind, for riders", "Neighbours and riders")}


def _category_groups() -> list[dict]:
    """Categories grouped as the picker shows them: each group with its categories, in the
    catalogue's order; a group is private when all its categories are. A category that endangers
    life carries the emergency numbers to call first (``issues.emergency``)."""
    label = name_field()
    kinds = rider_kind_labels()
    groups: dict[str, dict] = {}
    for category in category_list():
        group = groups.setdefault(category.group.code, {
            "code": category.group.code, "name": getattr(category.group, label),
            "kind": kinds.get(category.group.code[:1], ""), "categories": [], "private": True,
        })
        group["categories"].append({
            "code": category.code, "name": getattr(category, label), "icon": category.icon,
            "private": category.is_private, "photo_optional": category.photo_optional,
            "calls": " ".join(category_emergency_numbers(category=category)),
        })
        group["private"] = group["private"] and category.is_private
    return list(groups.values())


@require_GET
@csp_protected
def rider_page(request: HttpRequest) -> HttpResponse:
    """The rider's page. Signed out it shows the sign-in; everything else comes from the API."""
    response = render(request, "frontend/rider.html", {
        "config": _page_config(request, page="rider"),
        "category_groups": _category_groups(),
        "icons": static("frontend/phone/icons.svg"),
        "assets": RIDER_ASSETS,
    })
    # Revalidated each time it is online (the service worker answers when offline).
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
@csp_protected
def team_page(request: HttpRequest) -> HttpResponse:
    """The teams' page: volunteers, team leaders and department liaisons work their tasks."""
    response = render(request, "frontend/team.html", {
        "config": _page_config(request, page="team"),
        "icons": static("frontend/phone/icons.svg"),
        "assets": TEAM_ASSETS,
    })
    response["Cache-Control"] = "no-cache"
    return response


def _assets_version(paths: tuple[str, ...]) -> str:
    """A hash of the assets' contents and the page templates: a new one makes the service
    worker fetch everything again (in production the URLs carry hashes too)."""
    digest = hashlib.sha256()
    for path in paths:
        found = finders.find(path)
        digest.update(static(path).encode())
        if found:
            digest.update(Path(found).read_bytes())
    for template in sorted(TEMPLATES.glob("rider*.html")):
        digest.update(template.read_bytes())
    return digest.hexdigest()[:16]


_assets_version_cached = lru_cache(maxsize=4)(_assets_version)


@require_GET
def rider_service_worker(request: HttpRequest) -> HttpResponse:
    """The rider page's service worker, scoped to /rider/: its settings (the version and the
    files it keeps, under their static URLs) followed by frontend/phone/sw.js."""
    paths = (*RIDER_ASSETS, *PHONE_LAZY_ASSETS, *PHONE_ON_USE_ASSETS, SW_SOURCE)
    version = (_assets_version if settings.DEBUG else _assets_version_cached)(paths)
    sw_config = {
        "version": version,
        "page": RIDER_SCOPE,
        "assets": [static(path) for path in RIDER_ASSETS],
        "lazy_assets": [static(path) for path in PHONE_LAZY_ASSETS],
        # The plain background's outlines (BASEMAP=none) too, kept when a map first shows them,
        # so the small map still shows them offline; a new worker (new assets) fetches them again.
        "on_use_assets": [*(static(path) for path in PHONE_ON_USE_ASSETS),
                          reverse("frontend:map-background")],
        "outbox_js": static("frontend/phone/outbox.js"),
    }
    source = Path(finders.find(SW_SOURCE)).read_text(encoding="utf-8")  # type: ignore[arg-type]
    body = f"self.CIVICMAP_SW = {json.dumps(sw_config)};\n{source}"
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = RIDER_SCOPE
    response["Cache-Control"] = "no-cache"  # browsers check for a new worker on each visit
    return response


@require_GET
def rider_manifest(request: HttpRequest) -> HttpResponse:
    """The web app manifest: installable from /rider/, names in the request's language."""
    manifest = {
        "name": str(_("Nanyuan whistle: rider")),
        "short_name": str(_("Nanyuan rider")),
        "description": str(_("Report problems on the street, follow them up, find rest "
                             "stations.")),
        "lang": translation.get_language() or settings.LANGUAGE_CODE,
        "id": RIDER_SCOPE,
        "start_url": RIDER_SCOPE,
        "scope": RIDER_SCOPE,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOUR,
        "icons": [
            {"src": static("frontend/phone/icon-192.png"), "sizes": "192x192",
             "type": "image/png", "purpose": "any"},
            {"src": static("frontend/phone/icon-512.png"), "sizes": "512x512",
             "type": "image/png", "purpose": "any"},
            {"src": static("frontend/phone/icon-maskable-512.png"), "sizes": "512x512",
             "type": "image/png", "purpose": "maskable"},
        ],
    }
    response = HttpResponse(json.dumps(manifest, ensure_ascii=False),
                            content_type="application/manifest+json; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


# --- sign-in: a username and password for the user's token; who the token belongs to ------


def user_summary(user) -> dict:
    """What the phone pages show of the signed-in user and which parts they may use."""
    rider = getattr(user, "rider", None) if user_is_rider(user) else None
    return {
        "username": user.get_username(),
        "display_name": (rider.display_name if rider else "") or user.first_name
        or user.get_username(),
        "rider": rider is not None,
        "worker": any(user_has_role(user, role) for role in (
            Role.VOLUNTEER, Role.TEAM_LEADER, Role.DEPARTMENT_LIAISON, Role.UNION_STAFF)),
    }


class TokenAttemptThrottle(AnonRateThrottle):
    rate = f"{TOKEN_ATTEMPTS_PER_MINUTE}/min"
    scope = "phone_token"

    def get_ident(self, request: Request) -> str:
        # The trusted-proxy rule, never an X-Forwarded-For the client wrote (civicmap.net).
        return client_ip(request._request)


class TokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class PhoneTokenView(APIView):
    """POST /phone/token/ — username and password in, the user's API token out (made on first
    use), so that the phone stays signed in. No session and no CSRF: nothing here acts on a
    cookie, and the answer cannot be read by another site."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenAttemptThrottle]

    @extend_schema(request=TokenInput, responses={200: dict})
    def post(self, request: Request) -> Response:
        form = TokenInput(data=request.data)
        form.is_valid(raise_exception=True)
        user = authenticate(request._request, username=form.validated_data["username"],
                            password=form.validated_data["password"])
        if getattr(request._request, "axes_locked_out", False):
            # django-axes refused (or this failure reached LOGIN_FAILURE_LIMIT): even the right
            # password is refused until the cool-off ends (civicmap.logins).
            raise RateLimited(FieldError(None, "locked_out", lockout_message()),
                              retry_after_s=lockout_seconds())
        if user is None or not user.is_active:
            raise InvalidInput(FieldError("password", "invalid_credentials",
                                          MSG_BAD_CREDENTIALS))
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key, "user": user_summary(user)})


class PhoneMeView(APIView):
    """GET /phone/me/ — who the token (or session) belongs to: checks a scanned or typed token."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        response = Response(user_summary(request.user))
        response["Cache-Control"] = "private, no-store"
        return response
