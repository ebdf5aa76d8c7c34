"""The case lifecycle: the seven stages of the national process in one table.

Each action names the case stages it may start from, the stage it leads to, and the task
statuses it may start from and lead to (None: the action does not touch a task, or creates one).
``patrol.services.lifecycle`` is the only code that changes stages and task statuses, and it
checks every change against this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from issues.models import CaseAction, Stage
from patrol.models import Task

S = Stage
T = Task.Status
LIVE_TASK_STATUSES = (T.OFFERED, T.ACCEPTED, T.IN_PROGRESS, T.HANDED_IN, T.SENT_BACK)
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
}


def allowed_actions(*, stage: str, task_status: str | None) -> list[str]:
    """Actions whose table entry admits this stage and live task status (before roles)."""
    return [
        action for action, rule in TRANSITIONS.items()
        if stage in rule.case_from
        and (not rule.task_from or task_status in rule.task_from)
    ]
