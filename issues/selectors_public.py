"""What the public pages show of a case (/cases/<id>/, the Atom feeds, Open311's ``notes``):
a public category's case by its number, its public history, its public photos, and the newest
cases opened and closed in a community or subdistrict.

"Public" is ``issues.visibility``'s rule, asked here and nowhere else: the cases of
``issues.selectors.case_public_list`` (no private category) and the photo renditions
``CaseAccess.photo`` grants to an anonymous reader. Never a reporter, a description, a worker's
note or an original (docs/SECURITY.md, docs/DECISIONS.md "What the public pages show").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from issues.models import Case, CaseAction, CaseEvent, ReportPhoto, Stage
from issues.selectors import PublicFilters, case_public_list, photo_url
from issues.visibility import case_access

FEED_ENTRIES_MAX = 50  # the newest entries of a feed; older ones drop off
PUBLIC_PHOTOS_MAX = 12  # a case page's photos (a case of many reports shows its first twelve)
DISPLAY = "display"  # the rendition a case page links to (issues.api.urls)

MSG_NOTE_REPORT_JOINED = _("Another report of the same problem joined this case.")

# The public history: the case events shown, and their Open311 note type. Assignments,
# confirmations and merges into this case stay internal; free-text notes of staff and workers
# are never shown.
NOTE_TYPES = {
    "created": "opened", CaseAction.FILE: "activity", CaseAction.DISPATCH: "activity",
    CaseAction.REDISPATCH: "activity", CaseAction.DECLINE: "activity",
    CaseAction.ACCEPT: "activity", CaseAction.START: "activity", CaseAction.HANDIN: "activity",
    CaseAction.SENDBACK: "activity", CaseAction.ESCALATE: "activity",
    "report_merged": "activity", CaseAction.VERIFY: "closed", CaseAction.REPLY: "closed",
    CaseAction.CANCEL: "closed", CaseAction.MERGE: "closed", CaseAction.RATE: "activity",
    CaseAction.EVALUATE: "activity",
}


def case_public_history(*, case_ids: set[int]) -> dict[int, list[dict]]:
    """Each case's public history, oldest first: when, what kind, which stage it reached."""
    events = CaseEvent.objects.filter(case_id__in=case_ids, action__in=NOTE_TYPES).filter(
        Q(action__in=["created", "report_merged"]) | ~Q(to_stage="")
    ).order_by("at", "id")
    notes: dict[int, list[dict]] = {}
    for event in events:
        summary = (MSG_NOTE_REPORT_JOINED if event.action == "report_merged"
                   else Stage(event.to_stage).label)
        notes.setdefault(event.case_id, []).append({
            "datetime": event.at, "type": NOTE_TYPES[event.action],
            "summary": str(summary), "stage": event.to_stage or None,
        })
    return notes


@dataclass(frozen=True)
class PublicPhoto:
    thumbnail: str
    display: str


@dataclass(frozen=True)
class PublicCase:
    """A public case as its page shows it: the case (category, grids loaded), its public
    history and photos."""

    case: Case
    history: list[dict]
    photos: list[PublicPhoto]


def case_public_get(*, case_id: int) -> PublicCase | None:
    """The public case numbered ``case_id``, or None (no such case, or a private category's:
    the page answers both alike, so that a number says nothing of a private case). A case
    merged into another is returned too; its page sends the reader on."""
    case = (case_public_list(filters=PublicFilters(), merged=True)
            .select_related("category", "subdistrict", "community_grid", "merged_into")
            .filter(pk=case_id).first())
    if case is None:
        return None
    return PublicCase(case=case,
                      history=case_public_history(case_ids={case.pk}).get(case.pk, []),
                      photos=_public_photos(case))


def _public_photos(case: Case) -> list[PublicPhoto]:
    """The report photos an anonymous reader may have (``CaseAccess.photo``: none of a report
    of a private category joined to this case), ready, in the order they were sent."""
    access = case_access(user=AnonymousUser(), case=case)
    photos = (ReportPhoto.objects.filter(report__case=case, status=ReportPhoto.Status.READY)
              .exclude(display="").exclude(thumbnail="")
              .order_by("report__received_at", "report_id", "position")
              .values_list("pk", "report__reporter_id", "report__category__is_private"))
    return [PublicPhoto(thumbnail=photo_url(pk, "thumbnail") or "",
                        display=photo_url(pk, DISPLAY) or "")
            for pk, owner_id, private in photos[:PUBLIC_PHOTOS_MAX]
            if access.photo(owner_id=owner_id, rendition=DISPLAY, private=private)]


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a public feed: a case opened (``kind`` "new") or closed ("closed":
    ``closed_at`` set, by a verification or the union's reply; a cancellation is no closing)
    at ``at``."""

    case: Case
    kind: str
    at: datetime

    @property
    def key(self) -> str:
        return f"{self.case.pk}-{self.kind}"


def case_feed_entries(*, subdistrict_id: int | None = None, community: str | None = None,
                      limit: int = FEED_ENTRIES_MAX) -> list[FeedEntry]:
    """The newest ``limit`` openings and closings of public cases of the subdistrict or the
    community grid (code), newest first: two indexed reads of at most ``limit`` rows each."""
    cases = (case_public_list(filters=PublicFilters(subdistrict_id=subdistrict_id,
                                                    community=community))
             .select_related("category", "subdistrict", "community_grid"))
    opened = [FeedEntry(case, "new", case.created_at)
              for case in cases.order_by("-created_at", "-id")[:limit]]
    closed = [FeedEntry(case, "closed", case.closed_at)  # type: ignore[arg-type]
              for case in cases.filter(closed_at__isnull=False)
              .order_by("-closed_at", "-id")[:limit]]
    return sorted(opened + closed, key=lambda entry: (entry.at, entry.case.pk, entry.kind),
                  reverse=True)[:limit]
