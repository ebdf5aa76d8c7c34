"""The office console's list data (/office/cases/) and its bulk actions (/office/cases/bulk/).

Thin views: the form checks the query (frontend.forms.ConsoleFilterForm), patrol.console reads
the page, frontend.maps.console shapes the rows; bulk actions run patrol's ``case_act`` once a
case, each in its own transaction, and answer case by case.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from civicmap.errors import DomainError
from civicmap.replica import replica_reads
from civicmap.roles import Role, user_has_role
from civicmap.scopes import user_subdistrict_ids
from frontend.forms import ConsoleFilterForm
from frontend.maps.basemaps import basemap_configured
from frontend.maps.console import console_facets, office_case_rows
from issues.models import Case, CaseAction
from issues.visibility import case_visible_to
from patrol.api.serializers import ActionInput
from patrol.console import (
    ConsoleFilters,
    console_options,
    office_console_facets,
    office_console_page,
    office_console_total,
)
from patrol.services.lifecycle import ACTIONS, case_act

BULK_CASES_MAX = 200  # one page of the console at its largest (patrol.console.PAGE_SIZE_MAX)
# Actions a bulk request may not name: a rating is a reporter's; a photo cannot be sent to many.
BULK_REFUSED = frozenset({CaseAction.RATE, CaseAction.EVALUATE, CaseAction.HANDIN})
MSG_OFFICE_ONLY = _("Only office staff can do this.")
MSG_PAGE_OUT_OF_RANGE = _("There is no such page: the list has %(pages)s.")
MSG_BULK_ACTION = _("Unknown action.")
MSG_BULK_CASES = _("Choose between 1 and %(limit)s cases, by number.")
MSG_BULK_BODY = _("Send a JSON object with an action and the cases.")
MSG_NO_SUCH_CASE = _("No such case.")
MSG_FACETS_MODE = _("Choose 1 (with the counts), 0 (without) or only (the counts alone).")
FACETS_WITH, FACETS_ONLY = "1", "only"
FACETS_MODES = (FACETS_WITH, "0", FACETS_ONLY)  # ?facets=


def _office_staff(user) -> bool:
    return user_has_role(user, Role.OFFICE_STAFF)


def _error(field: str | None, code: str, message, status: int) -> JsonResponse:
    """One error in the API's shape (civicmap/api/errors.py)."""
    return JsonResponse({"errors": [{"field": field, "code": code, "message": str(message)}]},
                        status=status)


def _form_errors(form) -> JsonResponse:
    return JsonResponse({"errors": [
        {"field": name, "code": error["code"] or "invalid", "message": error["message"]}
        for name, errors in form.errors.get_json_data().items() for error in errors
    ]}, status=400)


def _facets_key(user, filters: ConsoleFilters, total: int) -> str:
    """The counts depend on the account's subdistricts and the filters, not the order or page."""
    scope = user_subdistrict_ids(user)
    words = repr((sorted(scope) if scope is not None else "all", total,
                  replace(filters, sort="", page=1, page_size=0)))
    return "console-facets:" + hashlib.sha256(words.encode()).hexdigest()


def console_filter_form(request: HttpRequest) -> ConsoleFilterForm:
    """The console's filters from the query string (but ``facets``, the feed's own switch),
    with the account's choices."""
    query = request.GET.copy()
    query.pop("facets", None)
    return ConsoleFilterForm(query or None, options=console_options(user=request.user))


@require_GET
@replica_reads()
def office_cases(request: HttpRequest) -> JsonResponse:
    """The console's list: one page of the account's open cases as the query string filters and
    sorts them, the total and the counts beside each filter. ``?facets=0`` leaves the counts
    out, ``?facets=only`` answers the counts and the total alone: the page asks for the list
    and then the counts, so that the list never waits for them (D-056). An unknown filter
    value, sort, page or ``facets`` is a 400 naming the field."""
    if not _office_staff(request.user):
        return _error(None, "forbidden", MSG_OFFICE_ONLY, 403)
    mode = request.GET.get("facets") or FACETS_WITH
    if mode not in FACETS_MODES:
        return _error("facets", "invalid", MSG_FACETS_MODE, 400)
    form = console_filter_form(request)
    if form.is_bound and not form.is_valid():
        return _form_errors(form)
    filters = form.filters()
    if mode == FACETS_ONLY:
        total, capped = office_console_total(user=request.user, filters=filters)
        return _no_store(JsonResponse({
            "total": total, "total_capped": capped,
            "facets": _facets_counted(request, form, filters, total)}))
    page = office_console_page(user=request.user, filters=filters, with_facets=False)
    pages = max(1, -(-page.total // page.page_size))
    if filters.page > pages:
        return _error("page", "out_of_range", MSG_PAGE_OUT_OF_RANGE % {"pages": pages}, 400)
    basemap = basemap_configured(language=settings.LANGUAGE_CODE)  # for the GCJ-02 shift only
    return _no_store(JsonResponse({
        "cases": office_case_rows(page.rows, basemap=basemap),
        "total": page.total, "total_capped": page.total_capped, "page": page.page,
        "page_size": page.page_size, "pages": pages,
        "facets": (_facets_counted(request, form, filters, page.total)
                   if mode == FACETS_WITH else None),
    }))


def _facets_counted(request: HttpRequest, form: ConsoleFilterForm, filters: ConsoleFilters,
                    total: int) -> dict:
    """The counts beside the filters, as the form names the values. They are one pass over
    every open case of the account's scope (the slowest read of the console at 100,000 open
    cases, D-056): kept CONSOLE_FACETS_CACHE_S seconds under the filters and the number of
    open cases they match, so that polling and paging reuse them; a new or closed case counts
    at once, a stage moved within the open ones at most that late."""
    ttl = settings.CONSOLE_FACETS_CACHE_S
    key = _facets_key(request.user, filters, total) if ttl else None
    facets = cache.get(key) if key else None
    if facets is None:
        facets = console_facets(office_console_facets(user=request.user, filters=filters),
                                options=form.options)
        if key:
            cache.set(key, facets, ttl)
    return facets


def _no_store(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def office_cases_bulk(request: HttpRequest) -> JsonResponse:
    """One lifecycle action on many cases: ``{"action": "file", "cases": [1, 2],
    "reason": …}`` (the other fields are the action's, as POST /api/v1/cases/{id}/{action}/
    takes them). Each case is acted on alone, in its own transaction (``case_act``), so one
    refusal leaves the others done; the answer says per case ``ok`` with its stage, or the
    refusal's status and errors (409 with the allowed actions)."""
    if not _office_staff(request.user):
        return _error(None, "forbidden", MSG_OFFICE_ONLY, 403)
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return _error(None, "invalid", MSG_BULK_BODY, 400)
    action = body.pop("action", None)
    if action not in ACTIONS or action in BULK_REFUSED:
        return _error("action", "invalid", MSG_BULK_ACTION, 400)
    ids = body.pop("cases", None)
    if (not isinstance(ids, list) or not 0 < len(ids) <= BULK_CASES_MAX
            or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids)):
        return _error("cases", "invalid", MSG_BULK_CASES % {"limit": BULK_CASES_MAX}, 400)
    params = ActionInput(data=body)
    if not params.is_valid():
        return JsonResponse({"errors": [
            {"field": name, "code": getattr(errors[0], "code", "invalid"),
             "message": str(errors[0])} for name, errors in params.errors.items()]},
            status=400)
    results = [_bulk_one(request.user, case_id, action, params.validated_data)
               for case_id in dict.fromkeys(ids)]
    return JsonResponse({"action": action, "results": results})


def _bulk_one(user, case_id: int, action: str, params: dict) -> dict:
    case = Case.objects.select_related("category").filter(pk=case_id).first()
    if case is None or not case_visible_to(user=user, case=case):
        return {"id": case_id, "ok": False, "status": 404, "errors": [
            {"field": None, "code": "not_found", "message": str(MSG_NO_SUCH_CASE)}]}
    try:
        case = case_act(case_id=case_id, action=action, actor=user, **params)
    except DomainError as refusal:
        return {"id": case_id, "ok": False, "status": refusal.status_code,
                "errors": [{"field": e.field, "code": e.code, "message": str(e.message)}
                           for e in refusal.errors], **refusal.extra}
    return {"id": case_id, "ok": True, "stage": case.stage}
