"""Who may see what: the one rule for cases, people, words and photos (docs/SECURITY.md).

Every serializer, selector and view that shows a case, a report's words, its reporter, a
worker's note or a photo asks here; none decides for itself.

The classes of data and who sees them:

* a case (and its position): a public category's, everyone; a private category's, office staff
  of its subdistrict and the admin, whoever handles it, and its reporters;
* the reporter's identity (account, contact name, phone, e-mail; the actor of an event): office
  staff and the admin; union staff for a case the union handles;
* a report's description: office staff and the admin, whoever handles the case, and the report's
  own reporter. Riders and the public read only their own words;
* workers' notes (the hand-in note of a task, the note of an event): office staff and the admin
  and whoever handles the case; of a case's notes only the ones written *to* its reporters
  (``NOTES_FOR_REPORTERS``) reach the reporters too;
* a photo's display copy and thumbnail: as its case for a public category; for a private one,
  office staff and the admin, whoever handles the case, and the reporter of that report (or the
  rider who confirmed with it; a proof photo has no such owner: its reporters do not see it).
  An original (with its EXIF): office staff and the admin only. A photo of no case: the
  office's only.

"Whoever handles the case": the members and leader of a team, or the liaisons of a department,
that has or had a task on the case (any status: the work done stays theirs to see); union staff
of the case's subdistrict when the union handles the category (``Category.handler``) or has or
had a task on the case.

"Office staff" and "union staff" are always of the case's subdistrict (``civicmap.scopes``: the
account's membership; the district role and the admin cover every subdistrict). Outside its
subdistrict an office or union account sees a case as the public does: a public case's public
parts, a private case not at all (404), unless it handles or reported it.

Tasks belong to patrol, above issues in the layers (civicmap → issues → patrol): this module
reads them only through the reverse relation ``Case.tasks`` by name in query lookups, so issues
never imports patrol.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.db.models import Q

from civicmap.roles import Role, user_has_role
from civicmap.scopes import in_scope_q, user_covers
from issues.models import Case, CaseAction, CaseEvent, Category, Report, ReportPhoto

# Task.AssigneeKind.UNION of patrol.models, by value (see the module's note on layers).
UNION_TASK_KIND = "union"

# Event actions whose note is written to the case's reporters: the office's reason for a
# cancellation and the union's reply to a rider's own need (骑手诉求). Every other note (hand-in,
# send-back, decline, escalation, verification) is the workers' and stays with them.
NOTES_FOR_REPORTERS = frozenset({CaseAction.CANCEL, CaseAction.REPLY})

ORIGINAL = "original"  # the rendition name of a photo's original (issues.api.urls)


def _user_id(user) -> int | None:
    return user.pk if getattr(user, "is_authenticated", False) else None


def user_sees_everything(user) -> bool:
    """Office staff and the admin (a superuser holds every role): every case of their
    subdistricts (``office_covers``), every word."""
    return user_has_role(user, Role.OFFICE_STAFF)


def office_covers(user, *, subdistrict_id: int) -> bool:
    """Office staff whose work covers the subdistrict (or the admin): every case there, every
    word, and the office's actions on it."""
    return user_sees_everything(user) and user_covers(user, subdistrict_id)


def _handled_by_q(user) -> Q | None:
    """Cases the user handles or handled, as a condition on ``Case``; None for nobody."""
    user_id = _user_id(user)
    if user_id is None:
        return None
    handles = (Q(tasks__team__members=user_id) | Q(tasks__team__leader=user_id)
               | Q(tasks__department__liaisons=user_id))
    if user_has_role(user, Role.UNION_STAFF):
        handles |= (Q(category__handler=Category.Handler.UNION)
                    | Q(tasks__assignee_kind=UNION_TASK_KIND)) & in_scope_q(user)
    return handles


class CaseAccess:
    """What one user may see of one case. Each fact is read once, when first needed: a public
    case's photo or position needs no query at all."""

    def __init__(self, *, user, case: Case) -> None:
        self.user = user
        self.case = case
        self.user_id = _user_id(user)
        self.private = case.category.is_private
        self.everything = office_covers(user, subdistrict_id=case.subdistrict_id)

    @cached_property
    def handles(self) -> bool:
        """The user's team or department has or had a task on the case (or the union does, or
        handles its category, for union staff)."""
        condition = None if self.everything else _handled_by_q(self.user)
        return condition is not None and Case.objects.filter(condition, pk=self.case.pk).exists()

    @cached_property
    def union_handles(self) -> bool:
        """Union staff of the case's subdistrict, and the union handles the case."""
        return (self.handles and user_has_role(self.user, Role.UNION_STAFF)
                and user_covers(self.user, self.case.subdistrict_id) and (
            self.case.category.handler == Category.Handler.UNION
            or self.case.tasks.filter(assignee_kind=UNION_TASK_KIND).exists()))

    @cached_property
    def reported(self) -> bool:
        """The user filed a report of this case."""
        return self.user_id is not None and self.case.reports.filter(
            reporter=self.user_id).exists()

    @property
    def visible(self) -> bool:
        return not self.private or self.everything or self.handles or self.reported

    @property
    def reporters(self) -> bool:
        """Who reported (accounts, contact details) and who acted on the case."""
        return self.everything or self.union_handles

    @property
    def notes(self) -> bool:
        """Every workers' note of the case: task hand-in notes and event notes."""
        return self.everything or self.handles

    def report_text(self, report: Report) -> bool:
        """The report's description."""
        return self.notes or self._own(report.reporter_id)

    def event_note(self, event: CaseEvent) -> bool:
        return self.notes or (note_for_reporters(event) and self.reported)

    def photo(self, *, owner_id: int | None, rendition: str, private: bool = False) -> bool:
        """A photo of this case taken by ``owner_id`` (the report's reporter, the confirming
        rider; None for a proof photo, which its team sees as the case's handler); ``private``
        when the photo's own report is of a private category (in a case that is not)."""
        if rendition == ORIGINAL:
            return self.everything
        if not (self.private or private):
            return True
        return self.everything or self.handles or self._own(owner_id)

    def _own(self, owner_id: int | None) -> bool:
        return self.user_id is not None and owner_id == self.user_id


def case_access(*, user, case: Case) -> CaseAccess:
    """What ``user`` may see of ``case`` (its category loaded or loadable)."""
    return CaseAccess(user=user, case=case)


def case_visible_to(*, user, case: Case) -> bool:
    return case_access(user=user, case=case).visible


def report_text_public(report: Report) -> bool:
    """A description the public may read: one posted through Open311 (where ``description``
    is a public field of the standard, docs/DECISIONS.md) of a public category. The rider app's
    descriptions are never public."""
    return report.channel == Report.Channel.OPEN311 and not report.category.is_private


def note_for_reporters(event: CaseEvent) -> bool:
    """An event note written to the case's reporters (a reporter reads it of their own case)."""
    return event.action in NOTES_FOR_REPORTERS


@dataclass(frozen=True)
class PhotoOwner:
    """The case a photo shows, who took it, and whether its own report is private."""

    case: Case | None
    owner_id: int | None = None
    private: bool = False


def photo_owner(photo: ReportPhoto) -> PhotoOwner:
    """A report's photo (taken by its reporter), a task's proof photo (no owner: its team sees
    it as the case's handler) or a confirmation's photo (the confirming rider); a photo of no
    case has ``case`` None."""
    cases = Case.objects.select_related("category")
    if photo.report_id is not None:
        report = Report.objects.select_related("category", "case__category").get(
            pk=photo.report_id)
        return PhotoOwner(report.case, report.reporter_id, report.category.is_private)
    proof = cases.filter(tasks__proof_photo=photo.pk).first()
    if proof is not None:
        return PhotoOwner(proof)
    confirmed = (Case.objects.filter(confirmations__photo=photo.pk)
                 .values_list("pk", "confirmations__rider").first())
    if confirmed is not None:
        return PhotoOwner(cases.get(pk=confirmed[0]), confirmed[1])
    return PhotoOwner(None)


def photo_visible_to(*, user, photo: ReportPhoto, rendition: str) -> bool:
    """Whether ``user`` may have ``rendition`` (display, thumbnail, original) of ``photo``:
    the rule of every URL that serves a photo."""
    owner = photo_owner(photo)
    if owner.case is None:  # e.g. a proof photo whose hand-in was undone: the office's only
        return user_sees_everything(user)
    return case_access(user=user, case=owner.case).photo(
        owner_id=owner.owner_id, rendition=rendition, private=owner.private)


def case_is_public(case: Case) -> bool:
    """Everyone may see it (and its photos' renditions): a public category's case."""
    return not case.category.is_private
