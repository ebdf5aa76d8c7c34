"""The office's triage console: its map, its case rows and the labels of stages and actions."""

from __future__ import annotations

from collections.abc import Sequence

import folium
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from folium.plugins import MarkerCluster

from civicmap.i18n import name_field
from frontend.maps.assets import (
    MAP_JS,
    MARKER_CLUSTER_CSS,
    MARKER_CLUSTER_JS,
    map_assets_check,
    use_static,
)
from frontend.maps.basemaps import Basemap, Projector, base_map
from frontend.maps.elements import (
    MapCall,
    controls_text,
    details,
    feature_collection,
    layer_label,
    number,
)
from frontend.selectors import CommunityStats
from issues.models import CaseAction, Priority, Stage, TaskStatus
from patrol.console import ConsoleOptions, ConsoleRow

# Each colour is also the background of its stage's white label in the console's list, so each
# gives white text at least 4.5:1 (WCAG 1.4.3 AA; tests/frontend/test_accessibility.py).
STAGE_COLOURS = {
    Stage.NEW: "#d62728", Stage.FILED: "#b35900", Stage.DISPATCHED: "#1f77b4",
    Stage.IN_PROGRESS: "#7b4fa6", Stage.HANDED_IN: "#237f23",
}
CLOSED_COLOUR = "#666666"


def action_labels() -> dict[str, str]:
    """Lifecycle actions as buttons and in a case's history ("case action": "File" is 立案)."""
    return {
        CaseAction.FILE: pgettext("case action", "File"),
        CaseAction.DISPATCH: pgettext("case action", "Dispatch"),
        CaseAction.REDISPATCH: pgettext("case action", "Dispatch again"),
        CaseAction.VERIFY: pgettext("case action", "Verify and close"),
        CaseAction.SENDBACK: pgettext("case action", "Send back"),
        CaseAction.ESCALATE: pgettext("case action", "Escalate"),
        CaseAction.REPLY: pgettext("case action", "Reply and close"),
        CaseAction.CANCEL: pgettext("case action", "Cancel case"),
        CaseAction.TRANSFER: pgettext("case action", "Transfer"),
        CaseAction.PRIORITISE: pgettext("case action", "Set priority"),
    }


def event_labels() -> dict[str, str]:
    """The other entries of a case's history (issues.CaseEvent.action)."""
    return {
        **action_labels(),
        "created": pgettext("case history", "Reported"),
        "report_merged": pgettext("case history", "Another report joined"),
        "confirmed": pgettext("case history", "Confirmed by a rider"),
        CaseAction.ACCEPT: pgettext("case history", "Accepted"),
        CaseAction.DECLINE: pgettext("case history", "Declined"),
        CaseAction.ASSIGN: pgettext("case history", "Assigned"),
        CaseAction.START: pgettext("case history", "Work started"),
        CaseAction.HANDIN: pgettext("case history", "Handed in"),
        CaseAction.MERGE: pgettext("case history", "Merged into another case"),
        "merged_in": pgettext("case history", "Another case merged in"),
        CaseAction.SPLIT: pgettext("case history", "Split"),
        "split_from": pgettext("case history", "Split from another case"),
        CaseAction.RATE: pgettext("case history", "Rated"),
        CaseAction.EVALUATE: pgettext("case history", "Evaluated"),
        CaseAction.ADD_NOTE: pgettext("case history", "Internal note"),
        CaseAction.PRIORITISE: pgettext("case history", "Priority set"),
    }


def dispatch_labels(language: str) -> dict:
    """The dispatch panel's words (frontend/static/frontend/civicmap-dispatch.js)."""
    return {
        "locale": "en" if language.startswith("en") else "zh-CN",
        "title": _("Dispatch"), "loading": _("Loading the dispatch options…"),
        "loadFailed": _("Could not load the dispatch options."),
        "handler": _("Who handles it"), "suggested": _("Suggested"),
        "suggestedBy": _("%(name)s, by %(rule)s"),
        "noSuggestion": _("No rule or team serves this case's community: choose one."),
        "loadCaption": _("Teams and departments with their open and overdue tasks"),
        "chooseColumn": _("Choose"), "handlerColumn": _("Team or department"),
        "kindColumn": _("Kind"), "openColumn": _("Open tasks"),
        "overdueColumn": _("Overdue tasks"),
        "kinds": {"team": _("Volunteer team"), "department": _("Department"),
                  "union": _("Trade union")},
        "priority": _("Priority"),
        "priorityHint": _("Urgent halves the category's deadlines, high takes three quarters."),
        "deadline": _("Resolution deadline"),
        "bounds": _("From %(earliest)s to %(latest)s."),
        "deadlineInvalid": _("Enter a date and time."),
        "reason": _("Reason"),
        "reasonHint": _("Required when the priority or the deadline is not the default; it "
                        "goes into the case's history."),
        "reasonRequired": _("Give a reason."),
        "dispatchButton": pgettext("case action", "Dispatch"),
        "redispatchButton": pgettext("case action", "Dispatch again"),
        "sending": _("Sending…"), "done": _("Dispatched."),
        "sendFailed": _("Could not dispatch; try again."),
    }


def category_kind_labels() -> dict[str, str]:
    """A category's kind by its code's first letter (``issues.models.Category.kind``)."""
    return {"C": pgettext("category kind", "Component"), "E": pgettext("category kind", "Event"),
            "L": pgettext("category kind", "Local")}


def task_status_labels() -> dict[str, str]:
    """Where a task stands, as the console shows it beside the handler (the model's labels:
    "offered" is 待接单, never the code)."""
    return {status.value: str(status.label) for status in TaskStatus}


def office_case_rows(rows: Sequence[ConsoleRow], *, basemap: Basemap) -> list[dict]:
    """The console's list and markers: one row per open case, in the active language, drawn on
    ``basemap``."""
    projector = Projector(basemap)
    english = name_field() == "name_en"
    out = []
    for row in rows:
        lon, lat = projector.lonlat(row.lon, row.lat)
        out.append({
            "id": row.id, "stage": row.stage, "category": row.category,
            "category_name": row.category_name_en if english else row.category_name_zh,
            "community": row.community_en if english else row.community_zh,
            "priority": Priority(row.priority).code, "channel": row.channel,
            "report_count": row.report_count,
            "created_at": row.created_at.isoformat(),
            "last_report_at": row.last_report_at.isoformat(),
            "handler": row.handler_en if english else row.handler_zh,
            "resolution_due": row.resolution_due.isoformat() if row.resolution_due else None,
            "due": row.due,
            "lon": round(lon, 6), "lat": round(lat, 6),
        })
    return out


def console_facets(facets: dict[str, dict], *, options: ConsoleOptions) -> dict[str, dict]:
    """The counts beside the console's filters, keyed by the values its form takes (codes, not
    ids): the page writes each beside its option."""
    categories = {c.pk: c.code for c in options.categories}
    communities = {c.pk: c.code for c in options.communities}
    teams = {t.pk: t.code for t in options.teams}
    departments = {d.pk: d.code for d in options.departments}

    def handler(key: tuple[str, int | None]) -> str | None:
        kind, pk = key
        if kind == "union":
            return "union"
        code = (teams if kind == "team" else departments).get(pk)
        return f"{kind}:{code}" if code else None

    keyed = {
        "stage": lambda key: key, "kind": lambda key: key, "due": lambda key: key,
        "channel": lambda key: key, "category": categories.get, "community": communities.get,
        "handler": handler, "priority": lambda key: Priority(key).code,
    }
    out: dict[str, dict] = {}
    for facet, counts in facets.items():
        out[facet] = {}
        for key, n in counts.items():
            word = keyed[facet](key)
            if word is not None:
                out[facet][word] = out[facet].get(word, 0) + n
    return out


# The actions the console's bulk bar offers first (any lifecycle action name is taken by the
# bulk endpoint, frontend.console_views.office_cases_bulk).
BULK_ACTIONS = (CaseAction.FILE, CaseAction.DISPATCH, CaseAction.CANCEL)


def office_map_build(*, grids: Sequence[CommunityStats], basemap: Basemap, feed_url: str,
                     api_root: str, poll_ms: int, bulk_url: str = "",
                     language: str = "zh-hans") -> folium.Map:
    """The triage console's map: community outlines and an (empty) cluster of open cases that
    civicmap-office.js fills from ``feed_url`` every ``poll_ms`` milliseconds, with the list's
    filters, paging, keys and bulk actions (civicmap-office-list.js, posting to ``bulk_url``)."""
    projector = Projector(basemap)
    with translation.override(language):
        fmap = base_map(projector, basemap,
                         [*MAP_JS, ("civicmap_dispatch", "frontend/civicmap-dispatch.js"),
                          ("civicmap_office_list", "frontend/civicmap-office-list.js"),
                          ("civicmap_office", "frontend/civicmap-office.js")])
        features = [
            {"type": "Feature", "geometry": projector.geometry(grid.geometry),
             "properties": {"name": grid.name, "open_cases": number(grid.open_cases),
                            "overdue_cases": number(grid.overdue_cases)}}
            for grid in grids
        ]
        folium.GeoJson(
            feature_collection(features), name=layer_label(_("Community grids")),
            style_function=lambda feature: {"color": "#555555", "weight": 1.5,
                                            "fillOpacity": 0.03},
            on_each_feature=details({
                "tooltip": True, "title": "name",
                "rows": [[_("Open cases"), "open_cases"], [_("Overdue cases"), "overdue_cases"]],
            }),
            class_name="civicmap-community",
        ).add_to(fmap)
        cluster = MarkerCluster(name=layer_label(_("Open cases")), disable_clustering_at_zoom=18)
        use_static(cluster, MARKER_CLUSTER_JS, MARKER_CLUSTER_CSS)
        cluster.add_to(fmap)
        folium.LayerControl(collapsed=True).add_to(fmap)
        MapCall("controlsLocalise", controls_text()).add_to(fmap)
        MapCall("scaleBar").add_to(fmap)
        MapCall("officeConsole", {
            "cluster": cluster.get_name(), "feed": feed_url, "api": api_root,
            "pollMs": poll_ms, "locale": "en" if language.startswith("en") else "zh-CN",
            "stages": {stage.value: {"colour": STAGE_COLOURS.get(stage, CLOSED_COLOUR),
                                     "label": str(stage.label)} for stage in Stage},
            "actions": [[action, label] for action, label in action_labels().items()],
            "bulk": bulk_url,
            "bulkActions": [[action, action_labels()[action]] for action in BULK_ACTIONS],
            "dues": {"overdue": _("Overdue"), "soon": _("Due soon")},
            "events": event_labels(),
            "taskStatuses": task_status_labels(),
            "dispatchLabels": dispatch_labels(language),
            "priorities": [[priority.code, str(priority.label)] for priority in Priority],
            "text": {
                "openCases": _("%(count)s open cases, updated %(time)s"),
                "loadFailed": _("Could not load the cases; trying again."),
                "reports": _("Reports in this case"), "photos": _("Photos"),
                "history": _("History"),
                "tasks": _("Tasks"), "actions": _("Actions"), "note": _("Reason or note"),
                "noActions": _("Nothing to do here now."), "new": _("New"),
                "reportCount": _("Reports: %(count)s"), "close": _("Close"),
                "transferTo": _("Transfer to the subdistrict"),
                "priority": _("Priority"),
                "transferred": _("Transferred: the case is now that subdistrict's office's."),
                "casePage": _("Open the case page"),
                "pageOf": _("Page %(page)s of %(pages)s"),
                "openCasesMore": _("More than %(count)s open cases, updated %(time)s"),
                "selectCase": _("Select case #%(id)s"),
                "bulkDone": _("%(ok)s done, %(failed)s refused."),
                "bulkOk": _("done"),
                "bulkNone": _("Select one or more cases first."),
                "chosenCase": _("Chosen case"),
                "handler": _("Handler: %(name)s"),
                "noCases": _("No open case matches these filters."),
            },
        }).add_to(fmap)
    map_assets_check(fmap)
    return fmap
