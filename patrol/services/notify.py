"""``notify``: the one way the lifecycle and the deadline scans tell people something.

It decides the recipients, reads the facts a notification carries and has
``patrol.notifications.content`` build its data and text, records one feed row
(``Notification``) per recipient and, when a webhook is set, its delivery
(``patrol.webhooks``: the outbox), all in the caller's transaction.

Who hears what:

* a rider, of every change of their case, in a rider's words: filed, dispatched, dispatched
  again to another handler (``case_redispatched``), passed to a bordering subdistrict
  (``case_moved``: where to, never the office's reason), the work handed in
  (``case_handed_in``), sent back for more work (``case_sent_back``), closed (with the proof
  photo of a public case, and the union's reply to a rider's need; never a team's hand-in
  note), cancelled (with the reason) or merged into another case (``case_merged``: told as
  the case their report is now in, to the riders of the reports it brought);
* a team (leader and members; a department's liaisons; union staff for the union), of a new
  task and of a deadline coming close (``tasks_deadline_near_scan``);
* a team member, of a task their leader gave them (``task_assigned``: once per assignment);
* a team leader and the office, of an escalation; the leader of an overdue task, the office of
  a task past its resolution deadline;
* the offices of both subdistricts, of a case transferred between them;
* the office and the handler (its team, liaisons or the union's staff), of an urgent case handed
  to that handler (``case_urgent``: at each offer of an urgent case, and when a case with a
  handler is made urgent);
* every rider who reported a case a riders' council topic gathered, of the outcome the union
  recorded (``council_outcome``: once per topic, whatever number of its cases they reported);
* the rider the union gave a monthly award (``award_granted``: once per award).

"The office" and "the union" are the staff of the case's own subdistrict (their membership,
``civicmap.models.Membership``): 和义's office hears of 和义's cases, not of Nanyuan's. The district
role (a membership with no subdistrict) hears of none: it sees every subdistrict's queue, rates
and alerts when it looks, and a feed of every case of the district would drown it.

Each notification has a once-only key per recipient (a unique constraint), so raising it twice,
or from two workers at once, still gives one.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import connection

from civicmap.models import Subdistrict
from civicmap.roles import Role
from issues.models import AwardDecision, AwardKind, Case, CaseAction, CaseEvent
from issues.selectors import photo_url
from issues.visibility import NOTES_FOR_REPORTERS, case_is_public
from patrol.models import CouncilTopic, CouncilTopicCase, Notification, Task
from patrol.notifications.content import (
    award_granted_data,
    council_outcome_data,
    names_of,
    notification_data,
    notification_messages,
)
from patrol.selectors import handler_names
from patrol.sql import CASE_REPORTERS, DEPARTMENT_LIAISONS, STAFF_IN, TEAM_MEMBERS
from patrol.webhooks import webhook_deliveries_create, webhook_enabled

RIDER_KINDS = {"case_filed", "case_dispatched", "case_redispatched", "case_moved",
               "case_handed_in", "case_sent_back", "case_closed", "case_cancelled",
               "case_merged"}


# --- who hears it -------------------------------------------------------------------------------


# Who hears a notification is a list of user ids: the rows need no more of the accounts.

def _user_ids(statement: str, params: dict) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return [user_id for (user_id,) in cursor.fetchall()]


def _staff_in(role: Role, subdistrict_ids: list[int]) -> list[int]:
    """The accounts in ``role`` that work for one of these subdistricts (not the district
    role)."""
    return _user_ids(STAFF_IN, {"role": role.value, "subdistricts": list(subdistrict_ids)})


def _staff_of(role: Role, case: Case) -> list[int]:
    """The accounts in ``role`` that work for the case's subdistrict."""
    return _staff_in(role, [case.subdistrict_id])


def _task_workers(task: Task) -> list[int]:
    if task.assignee_kind == Task.AssigneeKind.TEAM:
        return [task.team.leader_id, *_user_ids(TEAM_MEMBERS, {"team": task.team_id})]
    if task.assignee_kind == Task.AssigneeKind.DEPARTMENT:
        return _user_ids(DEPARTMENT_LIAISONS, {"department": task.department_id})
    return _staff_of(Role.UNION_STAFF, task.case)


def _task_leaders(task: Task) -> list[int]:
    if task.assignee_kind == Task.AssigneeKind.TEAM:
        return [task.team.leader_id]
    return _task_workers(task)


def _last_transfer(case: Case) -> tuple[CaseEvent, list[Subdistrict]] | None:
    """The case's latest transfer and its two subdistricts (from, to)."""
    event = case.events.filter(action=CaseAction.TRANSFER).last()
    if event is None:
        return None
    places = {s.code: s for s in Subdistrict.objects.filter(
        code__in=[event.data["from"], event.data["to"]]).defer("boundary")}
    return event, [places[event.data["from"]], places[event.data["to"]]]


def _last_merge(case: Case) -> CaseEvent:
    """The latest merge into the case: its event on the target (the source case, the reports
    it brought)."""
    return case.events.filter(action="merged_in").last()


def _case_riders(case: Case, *, report_ids: list[int] | None = None) -> list[int]:
    """The case's reporters (each once); of ``report_ids`` only, when given."""
    return _user_ids(CASE_REPORTERS, {"case": case.pk, "reports": report_ids})


def _topic_riders(topic: CouncilTopic) -> list[int]:
    """The riders who reported one of the topic's cases (each once)."""
    case_ids = CouncilTopicCase.objects.filter(topic=topic).values("case_id")
    return list(get_user_model().objects.filter(
        reports__case__in=case_ids).order_by().values_list("pk", flat=True).distinct())


def _recipients(kind: str, case: Case | None, task: Task | None) -> list[int]:
    if kind == "case_merged":  # the riders of the reports the merge brought, not the target's
        return _case_riders(case, report_ids=_last_merge(case).data["reports"])
    if kind in RIDER_KINDS:
        return _case_riders(case)
    if kind in {"task_offered", "task_deadline_near"}:
        return _task_workers(task)
    if kind == "task_assigned":  # the member the leader gave it to, no one else
        return [task.assignee_id]
    if kind == "task_response_overdue":
        return _task_leaders(task)
    if kind == "task_resolution_overdue":
        return _staff_of(Role.OFFICE_STAFF, task.case)
    if kind == "case_escalated":
        previous = (Task.objects.filter(case=case, status=Task.Status.ESCALATED)
                    .select_related("team").order_by("-finished_at").first())
        leaders = [previous.team.leader_id] if previous and previous.team else []
        return [*leaders, *_staff_of(Role.OFFICE_STAFF, case)]
    if kind == "case_transferred":
        _event, places = _last_transfer(case)
        return _staff_in(Role.OFFICE_STAFF, [place.pk for place in places])
    if kind == "case_urgent":
        return [*_staff_of(Role.OFFICE_STAFF, case), *_task_workers(task)]
    return []


# --- what it carries (the reads; the content is patrol.notifications.content's) ---------------


def _data(*, kind: str, case: Case | None, task: Task | None, handler_task: Task | None) -> dict:
    if case is None:
        return {}
    facts: dict = {}
    if kind == "case_urgent":
        facts["handler"] = handler_names(task)
    elif kind in {"case_dispatched", "case_redispatched"}:
        facts["handler"] = handler_names(handler_task)
    elif kind == "case_closed":
        done = (Task.objects.filter(case=case, status=Task.Status.DONE)
                .order_by("-finished_at", "-id").first())
        if done is not None:
            # To the reporters: a note only if written to them (the union's reply), a proof
            # photo only if they may see it (a public case's): issues.visibility.
            addressed = case.events.filter(task_id=done.pk, action__in=NOTES_FOR_REPORTERS).last()
            if addressed is not None:
                facts["note"] = addressed.note
            if case_is_public(case):
                facts["proof_photo"] = {
                    rendition: photo_url(done.proof_photo_id, rendition)
                    for rendition in ("display", "thumbnail")}
    elif kind == "case_escalated":
        escalated_to = (Task.objects.filter(case=case, department__isnull=False)
                        .select_related("department").order_by("-offered_at", "-id").first())
        facts["department"] = names_of(escalated_to.department) if escalated_to else None
    elif kind in {"case_transferred", "case_moved"}:
        event, (source, target) = _last_transfer(case)
        facts["transfer"] = {"from": names_of(source), "to": names_of(target),
                             "reason": event.note}
    elif kind == "case_merged":
        facts["merged_from"] = _last_merge(case).data["from"]
    return notification_data(kind=kind, case=case, task=task, **facts)


# --- the entry point ----------------------------------------------------------------------------


def notify(*, kind: str, at: datetime, case: Case | None = None, task: Task | None = None,
           topic: CouncilTopic | None = None, award: AwardDecision | None = None,
           data: dict | None = None, key_extra: str = "", handler_task: Task | None = None
           ) -> int:
    """Put one notification in each recipient's feed, once, with its webhook delivery (when a
    webhook is set), in the caller's transaction; returns how many were new.

    The notification carries the content's data (proof photo, reason, deadlines …) merged with
    ``data``; ``key_extra`` tells apart notifications of one kind, case and task that may each
    happen once (e.g. the response and the resolution deadline coming close). ``topic``: a
    riders' council topic (``council_outcome``), told once per topic to its cases' reporters;
    ``award``: an award given (``award_granted``), told once to its rider. ``handler_task``:
    the task a dispatch just offered (``case_dispatched``, ``case_redispatched``), whose handler
    the notification names: the dispatch has it in hand, with its case, team or department
    (reading it back cost intake a query and its ORM's CPU: docs/BENCHMARKS.md §2).
    """
    if award is not None:
        return _notify_rows(kind=kind, at=at, key=f"{kind}:award:{award.pk}", case=None,
                            task=None, payload={**_award_data(award), **(data or {})},
                            recipients=[award.rider.user_id])
    if topic is not None:
        return _notify_rows(kind=kind, at=at, key=f"{kind}:topic:{topic.pk}", case=None,
                            task=None, payload={**_topic_data(topic), **(data or {})},
                            recipients=_topic_riders(topic))
    case = case or (task.case if task else None)
    key = f"{kind}:{case.pk if case else ''}:{task.pk if task else ''}"
    if kind in RIDER_KINDS or kind in {"case_escalated", "case_transferred", "case_urgent"}:
        key = f"{key}:{at.isoformat()}"
    if key_extra:
        key = f"{key}:{key_extra}"
    payload = {**_data(kind=kind, case=case, task=task, handler_task=handler_task),
               **(data or {})}
    recipients = _recipients(kind, case, task)
    return _notify_rows(kind=kind, at=at, key=key, case=case, task=task, payload=payload,
                        recipients=recipients)


def _topic_data(topic: CouncilTopic) -> dict:
    meeting = topic.meeting
    return council_outcome_data(meeting_id=meeting.pk, date=meeting.date.isoformat(),
                                title=meeting.title, category=topic.category,
                                community=topic.community_grid, outcome=topic.outcome)


def _award_data(award: AwardDecision) -> dict:
    return award_granted_data(award_id=award.pk, kind=award.kind,
                              award_label=AwardKind(award.kind).label, month=award.month,
                              subdistrict=award.subdistrict)


def _notify_rows(*, kind: str, at: datetime, key: str, case: Case | None, task: Task | None,
                 payload: dict, recipients: list[int]) -> int:
    """One row per recipient (once: the key), with its webhook delivery when one is set."""
    recipients = list(dict.fromkeys(recipients))  # each once, in the order found
    rows = [
        Notification(recipient_id=user_id, kind=kind, key=key, case=case, task=task,
                     data=payload, created_at=at)
        for user_id in recipients
    ]
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if not webhook_enabled():
        return len(created)
    # bulk_create with ignore_conflicts sets no primary keys: read back this call's rows by key
    # and time. One made earlier by an identical call already has its delivery (kept as is).
    made = list(Notification.objects.filter(key=key, recipient__in=recipients,
                                            created_at=at).select_related("recipient"))
    messages = {row.pk: notification_messages(kind=row.kind, data=row.data, case_id=row.case_id)
                for row in made}
    webhook_deliveries_create(notifications=made, messages=messages, at=at)
    return len(made)
