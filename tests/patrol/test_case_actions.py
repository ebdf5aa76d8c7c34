"""The lifecycle's action names are one enum (issues.models.CaseAction), not lists of strings."""

import ast
from pathlib import Path

from issues.lifecycle import TRANSITIONS
from issues.models import CaseAction
from patrol.services.lifecycle import ACTIONS

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("bench", "civicmap", "fixtures", "frontend", "issues", "patrol", "scripts", "stations")
ENUM_MODULE = Path("issues/models.py")


def test_every_transition_is_a_case_action_and_every_action_has_one():
    assert all(isinstance(action, CaseAction) for action in TRANSITIONS)
    assert set(TRANSITIONS) == set(CaseAction)


def test_every_case_action_has_exactly_one_service_step():
    assert all(isinstance(action, CaseAction) for action in ACTIONS)
    assert set(ACTIONS) == set(CaseAction)


def _listed_names(tree: ast.AST, names: set[str]):
    """String constants naming an action inside a list, set, tuple or as a dict key."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Set, ast.Tuple)):
            elements = node.elts
        elif isinstance(node, ast.Dict):
            elements = [key for key in node.keys if key is not None]
        else:
            continue
        for element in elements:
            if isinstance(element, ast.Constant) and element.value in names:
                yield element.lineno, element.value


def test_no_product_module_lists_an_action_as_a_string():
    names = {action.value for action in CaseAction}
    spelled = []
    for top in PRODUCT:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative == ENUM_MODULE or "migrations" in relative.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            spelled += [f"{relative}:{line}: {name!r}" for line, name in _listed_names(tree, names)]
    assert spelled == [], "use issues.models.CaseAction instead of:\n" + "\n".join(spelled)


def test_the_scan_finds_a_listed_action():
    """The check above can fail: a string action in a set or as a dict key is found."""
    tree = ast.parse('ROLES = {"handin", "other"}\nLABELS = {"verify": 1, CaseAction.FILE: 2}')
    assert sorted(_listed_names(tree, {a.value for a in CaseAction})) == [(1, "handin"),
                                                                          (2, "verify")]
