"""The office's triage console: its map, its case rows and the labels of stages and actions."""

from __future__ import annotations

from collections.abc import Sequence

import folium
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from folium.plugins import MarkerCluster

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
from patrol.layers import OpenCase

STAGE_COLOURS = {
    Stage.NEW: "#d62728", Stage.FILED: "#ff7f0e", Stage.DISPATCHED: "#1f77b4",
    Stage.IN_PROGRESS: "#9467bd", Stage.HANDED_IN: "#2ca02c",
}
CLOSED_COLOUR = "#7f7f7f"


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


def office_case_rows(cases: Sequence[OpenCase], *, basemap: Basemap) -> list[dict]:
    """The console's list and markers: one row per open case, drawn on ``basemap``."""
    projector = Projector(basemap)
    rows = []
    for case in cases:
        lon, lat = projector.lonlat(case.lon, case.lat)
        rows.append({
            "id": case.id, "stage": case.stage, "category": case.category,
            "category_name": case.category_name, "community": case.community,
            "report_count": case.report_count,
            "last_report_at": case.last_report_at.isoformat(),
            "lon": round(lon, 6), "lat": round(lat, 6),
        })
    return rows


def office_map_build(*, grids: Sequence[CommunityStats], basemap: Basemap, feed_url: str,
                     api_root: str, poll_ms: int, language: str = "zh-hans") -> folium.Map:
    """The triage console's map: community outlines and an (empty) cluster of open cases that
    civicmap-office.js fills from ``feed_url`` every ``poll_ms`` milliseconds."""
    projector = Projector(basemap)
    with translation.override(language):
        fmap = base_map(projector, basemap,
                         [*MAP_JS, ("civicmap_dispatch", "frontend/civicmap-dispatch.js"),
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
            },
        }).add_to(fmap)
    map_assets_check(fmap)
    return fmap
