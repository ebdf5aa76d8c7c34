"""/office/geography/: the geography files page (issue 18). Office staff upload grids and
another system's cases, union staff stations (as in the stations API), as GeoJSON, a zipped
Shapefile, GeoPackage or KML; the page shows the dry run (every problem by feature, or what
would change) and, when there is none, an Apply button; and downloads the layers of the
subdistrict they work for in each format (cases for the office only).

The upload waits between the dry run and the apply in the default storage (shared by every
web process, as photos are), named by a random key that only a signed value on the page
gives back, bound to the user, for an hour. The apply checks everything again.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from datetime import datetime
from pathlib import Path

from django import forms
from django.contrib.auth.decorators import user_passes_test
from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from civicmap.coords import CoordSystem
from civicmap.errors import FieldError, InvalidInput
from civicmap.geofiles import EXPORT_FORMATS, MAX_GEOFILE_BYTES
from civicmap.models import Subdistrict
from civicmap.roles import Role, user_has_role
from civicmap.scopes import user_subdistrict_ids
from frontend.csp import csp_protected
from frontend.geography import EXPORT_LAYERS, IMPORT_LAYERS, geofile_export, geofile_import

UPLOAD_PREFIX = "geography-uploads/"
UPLOAD_MAX_AGE_S = 3600  # seconds between the dry run and the apply
SIGNING_SALT = "frontend.geography.upload"
PAGE_EXTENSIONS = (".geojson", ".json", ".zip", ".gpkg", ".kml")  # a .shp alone lacks its .dbf

MSG_PAGE_EXTENSION = _(
    "Upload a .geojson, .gpkg or .kml file, or a Shapefile as a .zip of its .shp, .shx, .dbf "
    "and .prj."
)
MSG_UPLOAD_GONE = _("The checked file has expired or was already applied: upload it again.")


LAYER_LABELS = {"grids": _("Grids"), "stations": _("Stations"), "cases": _("Cases")}
COUNT_LABELS = {
    "subdistricts": _("Subdistricts"), "communities": _("Community grids"),
    "unit_grids": _("Unit grids"), "unit_grids_removed": _("Unit grids removed"),
    "stations_created": _("Stations added"), "stations_updated": _("Stations updated"),
    "case_records_new": _("Case records to import"),
    "case_records_unchanged": _("Case records already imported (left as they are)"),
    "cases_opened": _("Cases opened"), "cases_joined": _("Records joining an existing case"),
}
FORMAT_LABELS = {"geojson": "GeoJSON", "gpkg": "GeoPackage", "shp": "Shapefile (.zip)",
                 "csv": "CSV"}


class GeographyUploadForm(forms.Form):
    file = forms.FileField(label=_("File"), help_text=MSG_PAGE_EXTENSION)
    layer = forms.ChoiceField(label=_("Layer"), required=False)
    gcj02 = forms.BooleanField(
        label=_("The coordinates are GCJ-02 (from a Chinese web map such as Amap)"),
        required=False,
    )

    def __init__(self, *args, layers: frozenset[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["layer"].choices = [
            ("", _("By its contents: points with a category are cases, other points stations, "
                   "polygons grids"))] + [
            (layer, LAYER_LABELS[layer]) for layer in IMPORT_LAYERS if layer in layers]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in PAGE_EXTENSIONS:
            raise forms.ValidationError(MSG_PAGE_EXTENSION)
        if upload.size > MAX_GEOFILE_BYTES:
            raise forms.ValidationError(_("The file is larger than %(mb)d MB.") % {
                "mb": MAX_GEOFILE_BYTES // (1024 * 1024)})
        return upload


def _import_layers(user) -> frozenset[str]:
    """Grids and cases are the office's to import, stations the union's (as in the stations
    API)."""
    return frozenset(
        ({"grids", "cases"} if user_has_role(user, Role.OFFICE_STAFF) else set())
        | ({"stations"} if user_has_role(user, Role.UNION_STAFF) else set()))


def _export_layers(user) -> tuple[str, ...]:
    """Grids and stations for both; cases for the office (who sees them)."""
    office = user_has_role(user, Role.OFFICE_STAFF)
    return tuple(layer for layer in EXPORT_LAYERS if layer != "cases" or office)


def _geography_staff(user) -> bool:
    return bool(_import_layers(user))


def _uploads_expire(now: datetime) -> None:
    """Delete the checked uploads nobody applied within the hour (run at each new upload, so
    that the folder holds at most an hour's uploads without a periodic task)."""
    try:
        names = default_storage.listdir(UPLOAD_PREFIX.rstrip("/"))[1]
    except (FileNotFoundError, NotImplementedError):
        return
    for name in names:
        key = f"{UPLOAD_PREFIX}{name}"
        try:
            stale = (now - default_storage.get_modified_time(key)).total_seconds()
        except (FileNotFoundError, NotImplementedError):
            continue
        if stale > UPLOAD_MAX_AGE_S:
            default_storage.delete(key)


def _run(*, key: str, name: str, layer: str, gcj02: bool, dry_run: bool, user):
    """Import the stored upload ``key`` (shown as ``name``) through the one import path."""
    extension = Path(key).suffix
    with tempfile.TemporaryDirectory(prefix="geography-upload-") as directory:
        local = Path(directory) / f"upload{extension}"
        with default_storage.open(key, "rb") as stored, open(local, "wb") as handle:
            shutil.copyfileobj(stored, handle)
        return geofile_import(path=local, name=name, layer=layer or None, dry_run=dry_run,
                              coord_system=CoordSystem.GCJ02 if gcj02 else None, actor=user,
                              layers=_import_layers(user))


@require_http_methods(["GET", "POST"])
@user_passes_test(_geography_staff)  # anyone else goes to the login page
@csp_protected
def office_geography(request: HttpRequest) -> HttpResponse:
    """Upload and check (a dry run), then apply; refused files answer 400 with every problem."""
    context: dict = {
        "applied": request.GET.get("applied") == "1",
        "downloads": [(LAYER_LABELS[layer], layer) for layer in _export_layers(request.user)],
        "formats": list(FORMAT_LABELS.items()),
    }
    status = 200
    layers = _import_layers(request.user)
    form = GeographyUploadForm(layers=layers)
    if request.method == "POST" and "upload" in request.POST:
        try:
            pending = signing.loads(request.POST["upload"], salt=SIGNING_SALT,
                                    max_age=UPLOAD_MAX_AGE_S)
        except signing.BadSignature:
            pending = None
        if (pending is None or pending.get("user") != request.user.pk
                or not default_storage.exists(pending["key"])):
            context["problems"] = [FieldError("file", "expired", MSG_UPLOAD_GONE)]
            status = 400
        else:
            try:
                _run(key=pending["key"], name=pending["name"], layer=pending["layer"],
                     gcj02=pending["gcj02"], dry_run=False, user=request.user)
            except InvalidInput as refused:  # changed since the dry run
                context["problems"], status = list(refused.errors), 400
            else:
                default_storage.delete(pending["key"])
                response = HttpResponseRedirect(f"{reverse('frontend:office-geography')}"
                                                "?applied=1")
                response.status_code = 303  # See Other: a reload does not post again
                return response
    elif request.method == "POST":
        form = GeographyUploadForm(request.POST, request.FILES, layers=layers)
        if not form.is_valid():
            status = 400
        else:
            upload = form.cleaned_data["file"]
            _uploads_expire(timezone.now())
            name = Path(upload.name).name[:100]
            key = default_storage.save(
                f"{UPLOAD_PREFIX}{uuid.uuid4().hex}{Path(name).suffix.lower()}", upload)
            layer, gcj02 = form.cleaned_data["layer"], form.cleaned_data["gcj02"]
            try:
                summary = _run(key=key, name=name, layer=layer, gcj02=gcj02, dry_run=True,
                               user=request.user)
            except InvalidInput as refused:
                default_storage.delete(key)
                context["problems"], status = list(refused.errors), 400
            else:
                context["summary"] = summary
                context["layer_label"] = LAYER_LABELS[summary.layer]
                context["counts"] = [(COUNT_LABELS[name], number)
                                     for name, number in summary.counts.items()]
                context["file_name"] = name
                context["upload"] = signing.dumps(
                    {"key": key, "name": name, "layer": summary.layer, "gcj02": gcj02,
                     "user": request.user.pk}, salt=SIGNING_SALT)
    context["form"] = form
    return render(request, "frontend/office_geography.html", context, status=status)


@require_GET
@user_passes_test(_geography_staff)
def office_geography_export(request: HttpRequest, layer: str, file_format: str) -> FileResponse:
    """The layer of the subdistrict the account works for (the whole district: all of them) as
    a download; a Shapefile as a .zip of its files."""
    if layer not in _export_layers(request.user) or file_format not in EXPORT_FORMATS:
        raise Http404
    scope = user_subdistrict_ids(request.user)
    code = None
    if scope is not None:
        codes = list(Subdistrict.objects.filter(pk__in=scope).values_list("code", flat=True))
        if len(codes) != 1:
            raise Http404
        code = codes[0]
    extension = EXPORT_FORMATS[file_format][1]
    directory = Path(tempfile.mkdtemp(prefix="geography-export-"))
    stem = f"{layer}-{code or 'district'}"
    (directory / "files").mkdir()
    path = directory / "files" / f"{stem}{extension}"
    geofile_export(layer=layer, file_format=file_format, path=path, subdistrict_code=code)
    if file_format == "shp":  # the .shp with its .shx, .dbf, .prj and .cpg
        path = Path(shutil.make_archive(str(directory / stem), "zip", directory / "files"))
    # The temporary folder goes once the response is sent (FileResponse closes the file).
    handle = open(path, "rb")  # noqa: SIM115 (FileResponse closes it)
    response = FileResponse(handle, as_attachment=True, filename=path.name)
    response._resource_closers.append(lambda: shutil.rmtree(directory, ignore_errors=True))
    return response

