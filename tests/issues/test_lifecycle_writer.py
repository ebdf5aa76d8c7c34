"""The case lifecycle in one place (issues.lifecycle): one writer of a case's stage, a table that
refuses what it does not list, and an audit trail whose task ids the database checks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction

from issues.lifecycle import TRANSITIONS, TransitionRefused, allowed_actions, transition_for
from issues.models import CaseAction, CaseEvent, Stage, TaskStatus
from tests.patrol.helpers import case_in_stage, live_task

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_APPS = ("civicmap", "frontend", "issues", "patrol", "stations")
WRITER = Path("issues/lifecycle.py")


def _stage_writes(tree: ast.AST):
    """Lines that assign ``<x>.stage = …`` or pass ``stage=`` to an update()."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "stage":
                    yield node.lineno
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "update"
                and any(keyword.arg == "stage" for keyword in node.keywords)):
            yield node.lineno


def test_only_the_lifecycle_module_writes_a_case_stage():
    offenders = []
    for app in PRODUCT_APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative == WRITER or "migrations" in relative.parts:
                continue
            offenders += [f"{relative}:{line}"
                          for line in _stage_writes(ast.parse(path.read_text()))]
    assert offenders == []
    assert list(_stage_writes(ast.parse((ROOT / WRITER).read_text())))  # the check can see one


def test_the_table_refuses_what_it_does_not_list():
    assert transition_for(action=CaseAction.VERIFY, stage=Stage.HANDED_IN,
                          task_status=TaskStatus.HANDED_IN).case_to == Stage.CLOSED
    with pytest.raises(TransitionRefused):
        transition_for(action=CaseAction.VERIFY, stage=Stage.HANDED_IN,
                       task_status=TaskStatus.OFFERED)
    with pytest.raises(TransitionRefused):
        transition_for(action=CaseAction.FILE, stage=Stage.CLOSED, task_status=None)


@pytest.mark.parametrize("stage", list(Stage))
def test_allowed_actions_are_exactly_the_legal_transitions(stage):
    for status in [None, *TaskStatus]:
        allowed = set(allowed_actions(stage=stage, task_status=status))
        for action in TRANSITIONS:
            try:
                transition_for(action=action, stage=stage, task_status=status)
                legal = True
            except TransitionRefused:
                legal = False
            assert (action in allowed) == legal, (stage, status, action)


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_an_event_naming_no_task_and_deletes_a_tasks_events(reference_data):
    case = case_in_stage("in_progress")
    task = live_task(case)
    assert CaseEvent.objects.filter(case=case, task_id=task.pk).exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseEvent.objects.create(case=case, action="assign", task_id=task.pk + 10_000_000,
                                 at=task.offered_at)
    with connection.cursor() as cursor:  # the constraint is patrol's, under its own name
        cursor.execute("SELECT count(*) FROM pg_constraint WHERE conname = 'caseevent_task_fk'")
        assert cursor.fetchone()[0] == 1
    task_id = task.pk
    task.delete()
    assert not CaseEvent.objects.filter(task_id=task_id).exists()
    assert CaseEvent.objects.filter(case=case, action="created").exists()
