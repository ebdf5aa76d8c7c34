"""The riders' council (小哥议事会), issue 18: the union of a subdistrict plans a meeting, puts
topics from the suggestion box on its agenda (a topic gathers the matching cases), and records
each topic's outcome at or after the meeting; recording tells every rider who reported one of
the topic's cases, once (``notify``, kind ``council_outcome``).

Every refusal names its field and writes nothing: the checks run before the first write and
each service is one transaction. The database holds the same invariants (patrol.models and
migration 0014's triggers) for writes that bypass these services.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from civicmap.errors import Conflict, FieldError, InvalidInput, PermissionRefused
from civicmap.models import CommunityGrid, Subdistrict
from issues.models import Case, Category, Stage
from patrol.models import CouncilMeeting, CouncilTopic, CouncilTopicCase
from patrol.selectors_council import OWN_NEEDS_PREFIX, council_may_act
from patrol.services.notify import notify
from patrol.workdays import SHANGHAI

TITLE_MAX = 120
OUTCOME_MAX = 2000

MSG_NOT_YOURS = _("Only the union staff of this subdistrict run its council.")
MSG_DATE_PAST = _("A meeting is planned for today or a later day.")
MSG_TITLE_EMPTY = _("Give the meeting a title.")
MSG_TITLE_LONG = _("The title is longer than %(max)d characters.")
MSG_MEETING_HELD = _("This meeting has been held: its agenda is closed.")
MSG_NOT_OWN_NEEDS = _("Only the riders' own-needs categories (L02) are council topics.")
MSG_COMMUNITY_ELSEWHERE = _("This community is not in the meeting's subdistrict.")
MSG_TOPIC_TWICE = _("This topic is already on the meeting's agenda.")
MSG_NO_CASES = _("No case of this topic and place waits for the council.")
MSG_CASE_ELSEWHERE = _("Case #%(case)s is not of the meeting's subdistrict.")
MSG_CASE_OTHER_TOPIC = _("Case #%(case)s is not of this topic and place.")
MSG_CASE_UNKNOWN = _("Case #%(case)s does not exist.")
MSG_OUTCOME_EMPTY = _("Write the outcome the council decided.")
MSG_OUTCOME_LONG = _("The outcome is longer than %(max)d characters.")
MSG_OUTCOME_EARLY = _("An outcome is recorded on the day of the meeting or later.")
MSG_OUTCOME_RECORDED = _("This topic's outcome has already been recorded.")
MSG_TOPIC_DECIDED = _("A topic with an outcome stays on the agenda.")


def _local_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def _check_actor(*, actor, subdistrict_id: int) -> None:
    if not council_may_act(user=actor, subdistrict_id=subdistrict_id):
        raise PermissionRefused.single("subdistrict", "not_yours", MSG_NOT_YOURS)


def _lock_planned(meeting: CouncilMeeting) -> CouncilMeeting:
    """The meeting row, locked: two staff adding the same topic, or recording the last two
    outcomes, at once are serialised here (the second sees the first's rows)."""
    locked = CouncilMeeting.objects.select_for_update().get(pk=meeting.pk)
    if locked.state != CouncilMeeting.State.PLANNED:
        raise Conflict.single("meeting", "held", MSG_MEETING_HELD)
    return locked


def council_meeting_plan(*, actor, subdistrict: Subdistrict, date: date, title: str,
                         at: datetime) -> CouncilMeeting:
    """Plan a meeting of the subdistrict's council on ``date`` (today or later, Beijing
    time)."""
    _check_actor(actor=actor, subdistrict_id=subdistrict.pk)
    title = (title or "").strip()
    errors = []
    if date < _local_day(at):
        errors.append(FieldError("date", "past", MSG_DATE_PAST))
    if not title:
        errors.append(FieldError("title", "required", MSG_TITLE_EMPTY))
    elif len(title) > TITLE_MAX:
        errors.append(FieldError("title", "too_long", MSG_TITLE_LONG % {"max": TITLE_MAX}))
    if errors:
        raise InvalidInput(*errors)
    return CouncilMeeting.objects.create(subdistrict=subdistrict, date=date, title=title,
                                         created_by=actor, created_at=at)


def _topic_cases(*, meeting: CouncilMeeting, category: Category,
                 community: CommunityGrid | None, case_ids: list[int] | None) -> list[int]:
    """The cases a topic gathers: those named (each checked and named when refused), or else
    every case of the category and place not cancelled, not merged, and not decided at an
    earlier meeting (what riders raised since the council last spoke on it)."""
    if case_ids is not None:
        found = {case.pk: case for case in Case.objects.filter(pk__in=case_ids)}
        errors = []
        for case_id in case_ids:
            case = found.get(case_id)
            if case is None:
                errors.append(FieldError("cases", "unknown", MSG_CASE_UNKNOWN % {"case": case_id}))
            elif case.subdistrict_id != meeting.subdistrict_id:
                errors.append(FieldError("cases", "elsewhere",
                                         MSG_CASE_ELSEWHERE % {"case": case_id}))
            elif (case.category_id != category.pk
                  or case.community_grid_id != (community.pk if community else None)):
                errors.append(FieldError("cases", "other_topic",
                                         MSG_CASE_OTHER_TOPIC % {"case": case_id}))
        if errors:
            raise InvalidInput(*errors)
        return sorted(set(case_ids))
    decided = CouncilTopicCase.objects.filter(topic__decided_at__isnull=False).values("case_id")
    return list(Case.objects.filter(
        subdistrict_id=meeting.subdistrict_id, category=category, community_grid=community,
        merged_into__isnull=True).exclude(stage=Stage.CANCELLED).exclude(pk__in=decided)
        .order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def council_topic_add(*, actor, meeting: CouncilMeeting, category: Category,
                      community: CommunityGrid | None, at: datetime,
                      case_ids: list[int] | None = None) -> CouncilTopic:
    """Put a topic (an own-needs category in a community, or in none) on a planned meeting's
    agenda, gathering its cases (``case_ids``, or every matching case that waits)."""
    _check_actor(actor=actor, subdistrict_id=meeting.subdistrict_id)
    meeting = _lock_planned(meeting)
    if not category.code.startswith(OWN_NEEDS_PREFIX) or category.code == OWN_NEEDS_PREFIX:
        raise InvalidInput.single("category", "not_own_needs", MSG_NOT_OWN_NEEDS)
    if community is not None and community.subdistrict_id != meeting.subdistrict_id:
        raise InvalidInput.single("community", "elsewhere", MSG_COMMUNITY_ELSEWHERE)
    if CouncilTopic.objects.filter(meeting=meeting, category=category,
                                   community_grid=community).exists():
        raise InvalidInput.single("category", "twice", MSG_TOPIC_TWICE)
    gathered = _topic_cases(meeting=meeting, category=category, community=community,
                            case_ids=case_ids)
    if not gathered:
        raise InvalidInput.single("category", "no_cases", MSG_NO_CASES)
    try:
        with transaction.atomic():
            topic = CouncilTopic.objects.create(meeting=meeting, category=category,
                                                community_grid=community)
            CouncilTopicCase.objects.bulk_create([
                CouncilTopicCase(topic=topic, meeting=meeting, case_id=case_id)
                for case_id in gathered])
    except IntegrityError as clash:  # the meeting lock makes this unreachable but for bypasses
        raise InvalidInput.single("category", "twice", MSG_TOPIC_TWICE) from clash
    return topic


@transaction.atomic
def council_topic_remove(*, actor, topic: CouncilTopic) -> None:
    """Take a topic off a planned meeting's agenda (its cases wait for another meeting)."""
    _check_actor(actor=actor, subdistrict_id=topic.meeting.subdistrict_id)
    _lock_planned(topic.meeting)
    if topic.decided_at is not None:
        raise Conflict.single("topic", "decided", MSG_TOPIC_DECIDED)
    topic.delete()


@transaction.atomic
def council_topic_outcome_record(*, actor, topic: CouncilTopic, outcome: str,
                                 at: datetime) -> CouncilTopic:
    """Record what the council decided on a topic, on the meeting's day or later, and tell
    every rider who reported one of its cases (once each). When every topic has its outcome the
    meeting is held."""
    _check_actor(actor=actor, subdistrict_id=topic.meeting.subdistrict_id)
    meeting = _lock_planned(topic.meeting)
    outcome = (outcome or "").strip()
    if not outcome:
        raise InvalidInput.single("outcome", "required", MSG_OUTCOME_EMPTY)
    if len(outcome) > OUTCOME_MAX:
        raise InvalidInput.single("outcome", "too_long",
                                  MSG_OUTCOME_LONG % {"max": OUTCOME_MAX})
    if _local_day(at) < meeting.date:
        raise InvalidInput.single("outcome", "early", MSG_OUTCOME_EARLY)
    topic = CouncilTopic.objects.select_related("category", "community_grid").get(pk=topic.pk)
    if topic.decided_at is not None:
        raise Conflict.single("outcome", "recorded", MSG_OUTCOME_RECORDED)
    topic.outcome, topic.decided_at, topic.meeting = outcome, at, meeting
    topic.save(update_fields=["outcome", "decided_at"])
    notify(kind="council_outcome", at=at, topic=topic)
    if not CouncilTopic.objects.filter(meeting=meeting, decided_at__isnull=True).exists():
        meeting.state, meeting.held_at = CouncilMeeting.State.HELD, at
        meeting.save(update_fields=["state", "held_at"])
    return topic

