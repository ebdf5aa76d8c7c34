"""/union/stations/: the union's stations (issue 18): the list beside a map, the editor and the
printable A4 sheet of a station's QR code.

Union staff of a subdistrict see and edit its stations; the district's accounts (union or office
staff whose work covers every subdistrict) read the list and the editor and change nothing; a
station of another subdistrict is a 404 (as the API's check-in code routes). Saving goes through
``stations.services.station_save``, the one validation of the API, the admin and the files: a
refusal is the editor again (400) with each error naming its field, or the weekday row and
interval of the opening hours, nothing written; a save answers 303 to the station's editor.

The pin: the editor's map draws the station on the configured basemap, shifted onto it when the
basemap is GCJ-02 (Amap); the form's longitude and latitude are in the basemap's system
(``coord_system``), shifted back to WGS 84 by ``civicmap.coords.to_wgs84`` before saving.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import user_passes_test
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from civicmap import coords
from civicmap.errors import DomainError, FieldError
from civicmap.scopes import EVERYWHERE, user_subdistrict_ids
from frontend.csp import csp_protected
from frontend.maps.assets import map_render_parts
from frontend.maps.basemaps import NANYUAN_CENTRE, Basemap, basemap_configured
from frontend.maps.union_stations import station_pin_map_build, union_stations_map_build
from frontend.reports.station_sheet import station_sheet_pdf
from frontend.union_views import union_page_reader
from stations.hours import wraps_midnight
from stations.layers import station_pins
from stations.models import MAX_COVERAGE_RADIUS_M, Service, Station, VenueType
from stations.selectors_union import (
    union_station_get,
    union_station_list,
    union_station_start,
)
from stations.services import checkin_max_distance_m, station_save, station_token_ensure
from stations.tokens import token_qr_payload, token_qr_svg

MSG_INTERVAL_HALF = _("%(day)s, interval %(number)d: give both the opening and the closing "
                      "time, or neither.")
MSG_READ_ONLY = _("The district's accounts read these pages; the subdistrict's union changes "
                  "them.")
ACTIVE_CHOICES = [("1", _("Active")), ("0", _("Inactive"))]
SPARE_INTERVALS = 1  # an empty interval under each weekday's, to add one without JavaScript


def _writable(user) -> bool:
    return user.is_superuser or user_subdistrict_ids(user) is not EVERYWHERE


class StationFilterForm(forms.Form):
    active = forms.ChoiceField(label=_("Activation"), required=False,
                               choices=[("", _("All")), *ACTIVE_CHOICES])
    venue_type = forms.ChoiceField(label=_("Venue type"), required=False,
                                   choices=[("", _("All")), *VenueType.choices])
    service = forms.ChoiceField(label=_("Service"), required=False,
                                choices=[("", _("All")), *Service.choices])


class StationForm(forms.Form):
    """The station's plain fields; the opening hours are the weekday rows (``_hours_posted``)."""

    name_zh = forms.CharField(label=_("Chinese name"), max_length=100)
    name_en = forms.CharField(label=_("English name"), max_length=100)
    address_zh = forms.CharField(label=_("Address"), max_length=200, required=False)
    venue_type = forms.ChoiceField(label=_("Venue type"), choices=VenueType.choices)
    services = forms.MultipleChoiceField(label=_("Services"), choices=Service.choices,
                                         required=False, widget=forms.CheckboxSelectMultiple)
    coverage_radius_m = forms.IntegerField(
        label=_("Coverage radius (m)"), required=False, min_value=1,
        max_value=MAX_COVERAGE_RADIUS_M, help_text=_("Empty: the default radius."))
    is_active = forms.ChoiceField(label=_("Activation"), choices=ACTIVE_CHOICES,
                                  widget=forms.RadioSelect)
    closed_on_holidays = forms.BooleanField(label=_("Closed on public holidays"),
                                            required=False)
    lon = forms.FloatField(label=_("Longitude"), min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), min_value=-90, max_value=90)
    coord_system = forms.ChoiceField(choices=[(s.value, s.value) for s in coords.CoordSystem],
                                     widget=forms.HiddenInput)


def _hours_posted(data) -> tuple[list[dict], list[dict], list[FieldError], dict[int, str]]:
    """The weekday rows posted (``hours-<day>-<row>-open|close|next_day``): the intervals to
    save, in row order, empty rows skipped; every row to show again (half-filled ones too); the
    half-filled rows' errors; and each interval's row key by its index in the list, to mark
    the row an error of the hours names (``opening_hours.<index>``)."""
    rows: dict[int, dict[int, dict]] = {day: {} for day in range(7)}
    for key in data:
        parts = key.split("-")
        if (len(parts) == 4 and parts[0] == "hours" and parts[1].isdigit()
                and int(parts[1]) < 7 and parts[2].isdigit()):
            rows[int(parts[1])].setdefault(int(parts[2]), {})[parts[3]] = data.get(key, "")
    intervals, shown, errors, keys = [], [], [], {}
    for day in range(7):
        number = 0
        for row in sorted(rows[day]):
            interval = {"day": day, "open": (rows[day][row].get("open") or "").strip(),
                        "close": (rows[day][row].get("close") or "").strip(),
                        "next_day": rows[day][row].get("next_day") == "on"}
            if not interval["open"] and not interval["close"]:
                continue
            number += 1
            shown.append(interval)
            if not interval["open"] or not interval["close"]:
                errors.append(FieldError(f"hours-{day}-{number}", "invalid", MSG_INTERVAL_HALF % {
                    "day": WEEKDAYS[day], "number": number}))
                continue
            keys[len(intervals)] = f"hours-{day}-{number}"
            intervals.append(interval)
    return intervals, shown, errors, keys


def _hours_rows(hours: list[dict], error_rows: set[str]) -> list[dict]:
    """The weekday rows of the widget: each day's intervals (numbered from 1, as the errors
    name them) and a spare empty one."""
    days = []
    for day in range(7):
        intervals = [{"open": i["open"], "close": i["close"], "next_day": i["next_day"]}
                     for i in hours if i["day"] == day]
        intervals += [{"open": "", "close": "", "next_day": False}] * SPARE_INTERVALS
        days.append({"day": day, "name": WEEKDAYS[day], "intervals": [
            {**interval, "number": number,
             "error": f"hours-{day}-{number}" in error_rows}
            for number, interval in enumerate(intervals, start=1)]})
    return days


def _basemap(request: HttpRequest) -> tuple[Basemap, str]:
    language = translation.get_language() or settings.LANGUAGE_CODE
    basemap = basemap_configured(language=language)
    request.csp_image_hosts = basemap.image_hosts  # type: ignore[attr-defined]
    return basemap, language


@require_GET
@user_passes_test(union_page_reader)  # anyone else goes to the login page
@csp_protected
def union_stations(request: HttpRequest) -> HttpResponse:
    """The stations of the reader's subdistricts with today's hours and last 30 days' visits,
    filtered by activation, venue type and service, beside the active ones on a map."""
    form = StationFilterForm(request.GET)
    values = form.cleaned_data if form.is_valid() else {}
    active = values.get("active")
    rows = union_station_list(user=request.user,
                              is_active=None if not active else active == "1",
                              venue_type=values.get("venue_type") or None,
                              service=values.get("service") or None)
    basemap, language = _basemap(request)
    pins = station_pins(ids=[row.station.pk for row in rows])
    fmap = union_stations_map_build(stations=pins, basemap=basemap, language=language)
    return render(request, "frontend/union_stations.html", {
        "rows": rows, "filters": form, "writable": _writable(request.user),
        "map": map_render_parts(fmap, nonce=request.csp_nonce),  # type: ignore[attr-defined]
    })


def _station_or_404(user, station_id: int | None) -> Station | None:
    if station_id is None:
        return None
    station = union_station_get(user=user, station_id=station_id)
    if station is None:
        raise Http404
    return station


def _start(user, station: Station | None) -> tuple[float, float]:
    """The pin's first place, WGS 84: the station's, else inside the reader's subdistrict."""
    if station is not None:
        return station.location.x, station.location.y
    return union_station_start(user=user) or (NANYUAN_CENTRE[1], NANYUAN_CENTRE[0])


def _initial(station: Station | None, system: str, start: tuple[float, float]) -> dict:
    """The form's values for a station (a new one: active, at ``start``), its position in
    the basemap's system."""
    lon, lat = coords.from_wgs84(*start, system)
    if station is None:
        return {"is_active": "1", "coord_system": system,
                "lon": round(lon, 7), "lat": round(lat, 7)}
    return {"name_zh": station.name_zh, "name_en": station.name_en,
            "address_zh": station.address_zh, "venue_type": station.venue_type,
            "services": station.services, "coverage_radius_m": station.coverage_radius_m,
            "is_active": "1" if station.is_active else "0",
            "closed_on_holidays": station.closed_on_holidays,
            "lon": round(lon, 7), "lat": round(lat, 7), "coord_system": system}


def _save(request: HttpRequest, form: StationForm, station: Station | None, hours: list[dict],
          keys: dict[int, str]) -> tuple[Station | None, list[FieldError], set[str], int]:
    """Save the valid form (its position shifted back to WGS 84) with ``hours``: the station,
    or the refusal's errors, the weekday rows they name and the status."""
    data = form.cleaned_data
    lon, lat = coords.to_wgs84(data["lon"], data["lat"], data["coord_system"])
    try:
        saved, _created = station_save(
            actor=request.user, station_id=station.pk if station else None,
            name_zh=data["name_zh"], name_en=data["name_en"], address_zh=data["address_zh"],
            venue_type=data["venue_type"], services=data["services"], lon=lon, lat=lat,
            opening_hours=hours, coverage_radius_m=data["coverage_radius_m"],
            is_active=data["is_active"] == "1",
            closed_on_holidays=data["closed_on_holidays"])
    except DomainError as refused:
        rows = {keys[int(e.field.split(".")[1])] for e in refused.errors
                if e.field and e.field.startswith("opening_hours.")}
        return None, list(refused.errors), rows, refused.status_code
    return saved, [], set(), 200


@require_http_methods(["GET", "POST"])
@user_passes_test(union_page_reader)  # anyone else goes to the login page
@csp_protected
def union_station_edit(request: HttpRequest, station_id: int | None = None) -> HttpResponse:
    """A new station (``station_id`` None) or one of the reader's subdistricts (404 for
    another's): the form, the opening-hours rows and the pin on the map. The district's
    accounts read a station's; their POST, and the new station's page, are refused (403),
    nothing written."""
    station = _station_or_404(request.user, station_id)
    writable = _writable(request.user)
    if station is None and not writable:
        raise PermissionDenied  # a new station is the subdistrict's union's to add
    basemap, language = _basemap(request)
    system = coords.CoordSystem.GCJ02 if basemap.gcj02 else coords.CoordSystem.WGS84
    start = _start(request.user, station)
    form = StationForm(initial=_initial(station, system, start))
    hours = [{**i, "next_day": wraps_midnight(i)} for i in (station.opening_hours
                                                            if station else [])]
    errors: list[FieldError] = []
    error_rows: set[str] = set()
    status = 200
    if request.method == "POST" and not writable:
        errors, status = [FieldError(None, "read_only", MSG_READ_ONLY)], 403
    elif request.method == "POST":
        form = StationForm(request.POST)
        intervals, hours, errors, keys = _hours_posted(request.POST)
        error_rows = {error.field for error in errors if error.field}
        if not form.is_valid():
            errors += [FieldError(field, "invalid", " ".join(messages))
                       for field, messages in form.errors.items()]
        if errors:
            status = 400
        else:
            saved, errors, error_rows, status = _save(request, form, station, intervals, keys)
            if saved is not None:
                response = HttpResponseRedirect(
                    reverse("frontend:union-station", kwargs={"station_id": saved.pk})
                    + "?saved=1")
                response.status_code = 303  # See Other: a reload does not post again
                return response
    lon, lat = _pin_wgs84(form, start)
    fmap, pin = station_pin_map_build(lon=lon, lat=lat, basemap=basemap, language=language)
    return render(request, "frontend/union_station_edit.html", {
        "station": station, "form": form, "writable": writable,
        "hours_rows": _hours_rows(hours, error_rows), "errors": errors, "pin": pin,
        "saved": request.GET.get("saved") == "1",
        "map": map_render_parts(fmap, nonce=request.csp_nonce),  # type: ignore[attr-defined]
    }, status=status)


def _pin_wgs84(form: StationForm, start: tuple[float, float]) -> tuple[float, float]:
    """Where to draw the pin, WGS 84: as posted (a refused form keeps the dragged pin), else
    where it started."""
    if form.is_bound and not {"lon", "lat", "coord_system"} & set(form.errors):
        data = form.cleaned_data
        return coords.to_wgs84(data["lon"], data["lat"], data["coord_system"])
    return start


def _sheet_text(request: HttpRequest) -> dict:
    """The sheet's words in Chinese, and in English too when the page is: the heading, the
    code line and the check-in steps (one source for the HTML sheet and the PDF)."""
    limit_m = checkin_max_distance_m()
    rider_url = request.build_absolute_uri(reverse("frontend:rider"))

    def words() -> dict:
        return {
            "union_station": gettext("Union station"),
            "title": gettext("How riders check in"),
            "code": gettext("Check-in code"),
            "steps": [
                gettext("Open the rider page %(rider_url)s on your phone and sign in.") % {
                    "rider_url": rider_url},
                gettext("Within %(limit_m)s m of the station, tap “Check in: scan the "
                        "station's QR code” and scan the code above, or type the code under "
                        "it.") % {"limit_m": limit_m},
                gettext("One check-in counts per hour. Members show the 苑苑暖心卡 on the phone "
                        "for the benefits this station offers."),
            ],
        }

    english = (translation.get_language() or "").startswith("en")
    with translation.override("zh-hans"):
        zh = words()
    if not english:
        return {"zh": zh, "en": None}
    with translation.override("en"):
        return {"zh": zh, "en": words()}


def _sheet_station(request: HttpRequest, station_id: int) -> tuple[Station, str]:
    """The station of the sheet and its current short code (made on first use): the
    station's own union only (another subdistrict's: 404; the district's: 403)."""
    station = _station_or_404(request.user, station_id)
    if not _writable(request.user):
        raise PermissionDenied
    token = station_token_ensure(station=station, actor=request.user)
    return station, token.short_code


@require_GET
@user_passes_test(union_page_reader)  # anyone else goes to the login page
@csp_protected
def union_station_sheet(request: HttpRequest, station_id: int) -> HttpResponse:
    """The A4 sheet to post at the station: its name, the QR code of its current check-in code
    (as the API's qr.svg) with the short code to type, and how to check in; printed by the
    browser (print CSS for A4), or as the PDF."""
    station, short_code = _sheet_station(request, station_id)
    return render(request, "frontend/union_station_sheet.html", {
        "station": station, "short_code": short_code, "text": _sheet_text(request),
        "qr_svg": token_qr_svg(station_id=station.pk, short_code=short_code),
    })


@require_GET
@user_passes_test(union_page_reader)  # anyone else goes to the login page
def union_station_sheet_pdf(request: HttpRequest, station_id: int) -> HttpResponse:
    """The same sheet as an A4 PDF (reportlab, the reports' CJK font)."""
    station, short_code = _sheet_station(request, station_id)
    text = _sheet_text(request)
    sections = [(text["zh"]["title"], text["zh"]["steps"])]
    if text["en"]:
        sections.append((text["en"]["title"], text["en"]["steps"]))
    pdf = station_sheet_pdf(
        heading=f"{station.subdistrict.name_zh} · {text['zh']['union_station']}",
        name=station.name_zh, name_en=station.name_en if text["en"] else None,
        payload=token_qr_payload(station_id=station.pk, short_code=short_code),
        code_line=f"{text['zh']['code']}: {short_code}", sections=sections)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="station-{station.pk}-sheet.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
