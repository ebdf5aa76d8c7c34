"""The case lifecycle: its transition table, the one writer of a case's stage, the audit trail.

The vocabulary sits beside the models that store it (issues.models: ``Stage``, ``OPEN_STAGES``,
``CaseAction``, ``TaskStatus``, ``LIVE_TASK_STATUSES``, ``CaseEvent``); the rules are here. Each
action names the case stages it may start from, the stage it leads to, and the task statuses it
may start from and lead to (None: the action does not touch a task, or creates one).

``case_stage_move`` is the only code that assigns ``Case.stage`` (intake creates cases at
``new``; tests/issues/test_lifecycle_writer.py holds that no other module assigns it). The
actions' effects on tasks, routing, notifications and points are patrol's
(``patrol.services.lifecycle.case_act``), which moves the case through this module; the demo
history (fixtures) applies the same table through ``transition_for``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from civicmap.db import row_insert
from issues.models import Case, CaseAction, CaseEvent, Stage, TaskStatus

S = Stage
T = TaskStatus
BEFORE_CLOSED = (S.NEW, S.FILED, S.DISPATCHED, S.IN_PROGRESS, S.HANDED_IN)


@dataclass(frozen=True)
class Transition:
    case_from: tuple[str, ...]
    case_to: str | None  # None: the stage does not change
    task_from: tuple[str, ...] = ()  # the live task must be in one of these (empty: no task)
    task_to: str | None = None


TRANSITIONS: dict[CaseAction, Transition] = {
    CaseAction.FILE: Transition((S.NEW,), S.FILED),
    CaseAction.CANCEL: Transition((S.NEW, S.FILED), S.CANCELLED),
    CaseAction.DISPATCH: Transition((S.NEW, S.FILED), S.DISPATCHED),
    CaseAction.REDISPATCH: Transition((S.DISPATCHED,), S.DISPATCHED, (T.OFFERED,), T.DECLINED),
    CaseAction.DECLINE: Transition((S.DISPATCHED,), S.FILED, (T.OFFERED,), T.DECLINED),
    CaseAction.ACCEPT: Transition((S.DISPATCHED,), S.IN_PROGRESS, (T.OFFERED,), T.ACCEPTED),
    CaseAction.ASSIGN: Transition((S.DISPATCHED, S.IN_PROGRESS), None,
                                  (T.OFFERED, T.ACCEPTED, T.IN_PROGRESS, T.SENT_BACK), None),
    CaseAction.START: Transition((S.IN_PROGRESS,), S.IN_PROGRESS, (T.ACCEPTED, T.SENT_BACK),
                                 T.IN_PROGRESS),
    CaseAction.HANDIN: Transition((S.IN_PROGRESS,), S.HANDED_IN,
                                  (T.ACCEPTED, T.IN_PROGRESS, T.SENT_BACK), T.HANDED_IN),
    CaseAction.VERIFY: Transition((S.HANDED_IN,), S.CLOSED, (T.HANDED_IN,), T.DONE),
    CaseAction.SENDBACK: Transition((S.HANDED_IN,), S.IN_PROGRESS, (T.HANDED_IN,), T.SENT_BACK),
    # Riders' own needs: union staff reply and close the task themselves, no verification.
    CaseAction.REPLY: Transition((S.DISPATCHED, S.IN_PROGRESS), S.CLOSED,
                                 (T.OFFERED, T.ACCEPTED, T.IN_PROGRESS, T.SENT_BACK), T.DONE),
    CaseAction.ESCALATE: Transition(BEFORE_CLOSED, S.DISPATCHED),
    CaseAction.RATE: Transition((S.CLOSED, S.EVALUATED), S.EVALUATED),
    CaseAction.EVALUATE: Transition((S.CLOSED,), S.EVALUATED),
    CaseAction.MERGE: Transition((S.NEW, S.FILED), S.CANCELLED),
    CaseAction.SPLIT: Transition(BEFORE_CLOSED, None),
    # To a bordering subdistrict's office, before anyone has taken the work on: the receiving
    # office files it afresh (an offer still open ends; docs/DECISIONS.md D-053).
    CaseAction.TRANSFER: Transition((S.NEW, S.FILED, S.DISPATCHED), S.FILED, (), T.TRANSFERRED),
    # The office's internal note (its case page): in every stage, closed and cancelled ones
    # included, whatever the live task's status; nothing moves, the event holds the note.
    CaseAction.ADD_NOTE: Transition(tuple(S), None),
    # The office sets how soon the case must be handled while it is open (D-058): the stage
    # and any live task stay as they are.
    CaseAction.PRIORITISE: Transition(BEFORE_CLOSED, None),
}


class TransitionRefused(ValueError):
    """The table does not admit the action from this stage and live task status."""


def _admits(rule: Transition, *, stage: str, task_status: str | None) -> bool:
    return stage in rule.case_from and (not rule.task_from or task_status in rule.task_from)


def allowed_actions(*, stage: str, task_status: str | None) -> list[CaseAction]:
    """Actions whose table entry admits this stage and live task status (before roles)."""
    return [action for action, rule in TRANSITIONS.items()
            if _admits(rule, stage=stage, task_status=task_status)]


def transition_for(*, action: str, stage: str, task_status: str | None) -> Transition:
    """The table's entry for ``action`` when it is legal now; raises TransitionRefused."""
    rule = TRANSITIONS[CaseAction(action)]
    if not _admits(rule, stage=stage, task_status=task_status):
        raise TransitionRefused(f"{action} from {stage}/{task_status}")
    return rule


def case_event_write(*, case: Case, action: str, actor=None, from_stage: str = "",
                     to_stage: str = "", note: str = "", task_id: int | None = None,
                     data: dict | None = None, at: datetime | None = None) -> CaseEvent:
    """Append one event to the case's audit trail (never edited afterwards)."""
    return row_insert(instance=CaseEvent(
        case=case, action=action, actor=actor, from_stage=from_stage, to_stage=to_stage,
        note=note, task_id=task_id, data=data or {}, at=at or timezone.now(),
    ))


def case_stage_move(*, case: Case, action: CaseAction, task_status: str | None, actor,
                    at: datetime, task_id: int | None = None, note: str = "",
                    data: dict | None = None) -> Transition:
    """Move ``case`` (locked by the caller, who saves it) as the table says for ``action`` and
    write the event; returns the entry, whose ``task_to`` the caller gives the live task.

    ``task_status`` is the live task's status before the action (None: no live task).
    Raises TransitionRefused for a move the table does not admit: callers check first
    (patrol answers 409 with the allowed actions), so reaching it is a bug, never a 500 a user
    can cause.
    """
    rule = transition_for(action=action, stage=case.stage, task_status=task_status)
    before = case.stage
    if rule.case_to is not None:
        case.stage = rule.case_to
    case_event_write(case=case, action=action, actor=actor, from_stage=before,
                     to_stage=case.stage, note=note, task_id=task_id, data=data, at=at)
    return rule
