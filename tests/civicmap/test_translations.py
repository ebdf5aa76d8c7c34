"""The Simplified Chinese catalogue (locale/zh_Hans) is complete, current and compiled.

No database: the .po file is parsed here with a small reader (no polib), the project's own
gettext calls are collected with ``ast``, and a couple of intake messages are rendered in both
languages. A developer who adds a user-facing string without translating it gets a failing test
that names the string and where it is.

To fix a failure, run (from the repository root):

    .venv/bin/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var \\
        --ignore=fixtures/build_geography.py --no-obsolete
    # translate the new entries in locale/zh_Hans/LC_MESSAGES/django.po, drop "#, fuzzy"
    .venv/bin/python manage.py compilemessages --ignore=.venv
"""

from __future__ import annotations

import ast
import gettext as stdlib_gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_PATH = LOCALE_DIR / "django.po"
MO_PATH = LOCALE_DIR / "django.mo"
SOURCE_PACKAGES = ("civicmap", "issues", "patrol", "stations", "frontend")

MAKEMESSAGES = (
    ".venv/bin/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var "
    "--ignore=fixtures/build_geography.py --no-obsolete"
)
COMPILEMESSAGES = ".venv/bin/python manage.py compilemessages --ignore=.venv"

# Where the msgid (and msgctxt / plural) sit in each gettext function's arguments, as Django's
# makemessages tells xgettext: name -> (context index or None, msgid index, plural index or None).
GETTEXT_FUNCTIONS: dict[str, tuple[int | None, int, int | None]] = {
    "_": (None, 0, None),
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# A printf-style conversion such as %(limit)s or %d; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa%]")


# --- a small .po reader ---------------------------------------------------------------------


@dataclass
class PoEntry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    def where(self) -> str:
        refs = " ".join(self.references) or "no reference"
        ctxt = f" [context {self.msgctxt!r}]" if self.msgctxt is not None else ""
        return f"django.po:{self.line} msgid {self.msgid!r}{ctxt} ({refs})"


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}


def _po_string(text: str, line_no: int) -> str:
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"django.po:{line_no}: expected a quoted string, got {text!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def po_entries(path: Path) -> list[PoEntry]:
    """Every entry of a .po file, the header (msgid "") included; obsolete (#~) ones skipped."""
    entries: list[PoEntry] = []
    entry = PoEntry()
    started = False  # the current entry has a msgid/msgctxt keyword already
    target: tuple[str, int | None] | None = None  # which field continuation lines extend

    def finish() -> None:
        nonlocal entry, started, target
        if started:
            entries.append(entry)
        entry, started, target = PoEntry(), False, None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#"):
            if started and entry.msgstr:  # a comment after msgstr opens the next entry
                finish()
            if line.startswith("#,"):
                entry.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
            elif line.startswith("#:"):
                entry.references.extend(line[2:].split())
            continue
        keyword, _sep, rest = line.partition(" ")
        if line.startswith('"'):
            if target is None:
                raise ValueError(f"django.po:{number}: continuation line outside an entry")
            name, index = target
            value = _po_string(line, number)
            if name == "msgstr":
                entry.msgstr[index] += value  # type: ignore[index]
            else:
                setattr(entry, name, (getattr(entry, name) or "") + value)
            continue
        if keyword in ("msgctxt", "msgid") and started and entry.msgstr:
            finish()  # entries not separated by a blank line
        if keyword == "msgctxt":
            started, entry.line = True, number
            entry.msgctxt = _po_string(rest, number)
            target = ("msgctxt", None)
        elif keyword == "msgid":
            if not started:
                entry.line = number
            started = True
            entry.msgid = _po_string(rest, number)
            target = ("msgid", None)
        elif keyword == "msgid_plural":
            entry.msgid_plural = _po_string(rest, number)
            target = ("msgid_plural", None)
        elif keyword == "msgstr":
            entry.msgstr[0] = _po_string(rest, number)
            target = ("msgstr", 0)
        elif (match := re.fullmatch(r"msgstr\[(\d+)\]", keyword)) is not None:
            index = int(match.group(1))
            entry.msgstr[index] = _po_string(rest, number)
            target = ("msgstr", index)
        else:
            raise ValueError(f"django.po:{number}: cannot read {raw!r}")
    finish()
    return entries


@pytest.fixture(scope="module")
def catalogue() -> list[PoEntry]:
    assert PO_PATH.is_file(), f"{PO_PATH.relative_to(ROOT)} is missing; run `{MAKEMESSAGES}`"
    return po_entries(PO_PATH)


@pytest.fixture(scope="module")
def header(catalogue: list[PoEntry]) -> dict[str, str]:
    headers = [entry for entry in catalogue if entry.msgid == "" and entry.msgctxt is None]
    assert len(headers) == 1, "django.po must have exactly one header entry (msgid \"\")"
    fields = {}
    for line in headers[0].msgstr[0].splitlines():
        name, _sep, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


@pytest.fixture(scope="module")
def messages(catalogue: list[PoEntry]) -> list[PoEntry]:
    return [entry for entry in catalogue if not (entry.msgid == "" and entry.msgctxt is None)]


# --- the source strings ---------------------------------------------------------------------


@dataclass(frozen=True)
class SourceString:
    msgctxt: str | None
    msgid: str
    msgid_plural: str | None
    where: str


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):  # translation.gettext(...)
        return node.func.attr
    return None


def _constant_str(args: list[ast.expr], index: int | None) -> str | None:
    if index is None or index >= len(args):
        return None
    arg = args[index]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value  # implicit concatenation is already joined by the parser
    return None


def source_strings() -> list[SourceString]:
    found = []
    for package in SOURCE_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                spec = GETTEXT_FUNCTIONS.get(_called_name(node) or "")
                if spec is None:
                    continue
                context_at, msgid_at, plural_at = spec
                msgid = _constant_str(node.args, msgid_at)
                if msgid is None or msgid == "":
                    continue  # a variable or an f-string: xgettext cannot extract it either
                if context_at is not None and _constant_str(node.args, context_at) is None:
                    continue
                found.append(SourceString(
                    msgctxt=_constant_str(node.args, context_at),
                    msgid=msgid,
                    msgid_plural=_constant_str(node.args, plural_at),
                    where=f"{relative}:{node.lineno}",
                ))
    return found


# A gettext call in makemessages' Python rendering of a template (Django's templatize).
TEMPLATE_CALL = re.compile(r"\b(?:gettext|ngettext|pgettext|npgettext)\(")


def _template_calls(text: str):
    """The gettext calls of templatize's output, each parsed as the shortest expression that
    ends at a closing parenthesis (the literals hold no code)."""
    for match in TEMPLATE_CALL.finditer(text):
        end = match.end()
        while (end := text.find(")", end) + 1) > 0:
            try:
                node = ast.parse(text[match.start():end], mode="eval").body
            except SyntaxError:
                continue
            if isinstance(node, ast.Call):
                yield node
            break


def template_strings() -> list[SourceString]:
    """The {% translate %} and {% blocktranslate %} strings of the project's templates, as
    makemessages finds them (through Django's own templatize)."""
    from django.utils.translation.template import templatize

    found = []
    for package in SOURCE_PACKAGES:
        for path in sorted((ROOT / package).rglob("templates/**/*.html")):
            relative = path.relative_to(ROOT).as_posix()
            for node in _template_calls(templatize(path.read_text(encoding="utf-8"))):
                context_at, msgid_at, plural_at = GETTEXT_FUNCTIONS[_called_name(node)]
                found.append(SourceString(
                    msgctxt=_constant_str(node.args, context_at),
                    msgid=_constant_str(node.args, msgid_at) or "",
                    msgid_plural=_constant_str(node.args, plural_at), where=relative))
    return found


# --- (a) the catalogue is complete ----------------------------------------------------------


def test_header_is_utf8_with_chinese_plural_forms(header: dict[str, str]) -> None:
    assert "charset=UTF-8" in header.get("Content-Type", ""), header.get("Content-Type")
    assert header.get("Plural-Forms") == "nplurals=1; plural=0;", header.get("Plural-Forms")


def test_catalogue_has_messages(messages: list[PoEntry]) -> None:
    assert len(messages) > 100, f"only {len(messages)} entries in django.po; run `{MAKEMESSAGES}`"


def test_no_entry_is_fuzzy(catalogue: list[PoEntry]) -> None:
    fuzzy = [entry.where() for entry in catalogue if "fuzzy" in entry.flags]
    assert not fuzzy, (
        "Fuzzy entries are not used by Django; check the translation and remove '#, fuzzy':\n  "
        + "\n  ".join(fuzzy)
    )


def test_every_entry_is_translated(messages: list[PoEntry]) -> None:
    untranslated = []
    for entry in messages:
        # nplurals=1: a plural entry needs msgstr[0] only, like a singular one.
        if 0 not in entry.msgstr or any(not text.strip() for text in entry.msgstr.values()):
            untranslated.append(entry.where())
    assert not untranslated, "Untranslated entries in django.po:\n  " + "\n  ".join(untranslated)


def _placeholders(text: str) -> list[str]:
    return sorted(match for match in PLACEHOLDER.findall(text) if match != "%%")


def test_placeholders_are_kept(messages: list[PoEntry]) -> None:
    broken = []
    for entry in messages:
        if "python-format" not in entry.flags:
            continue
        wanted = _placeholders(entry.msgid)
        for text in entry.msgstr.values():
            if _placeholders(text) != wanted:
                broken.append(f"{entry.where()} -> {text!r}")
    assert not broken, "Placeholders differ between msgid and msgstr:\n  " + "\n  ".join(broken)


# --- (b) every user-facing string in the code is in the catalogue ---------------------------


def test_every_source_string_is_in_the_catalogue(messages: list[PoEntry]) -> None:
    strings = source_strings()
    assert strings, "no gettext calls found in the source: is SOURCE_PACKAGES right?"
    templates = template_strings()
    assert templates, "no {% translate %} found in the templates: is the glob right?"
    strings += templates
    known = {entry.key for entry in messages}
    missing = sorted(
        {f"{s.where}: {s.msgid!r}" + (f" [context {s.msgctxt!r}]" if s.msgctxt else "")
         for s in strings if (s.msgctxt, s.msgid) not in known}
    )
    assert not missing, (
        f"{len(missing)} translatable string(s) are not in locale/zh_Hans/LC_MESSAGES/django.po."
        f" Run `{MAKEMESSAGES}`, translate them, then `{COMPILEMESSAGES}`:\n  "
        + "\n  ".join(missing)
    )


def test_source_plurals_match_the_catalogue(messages: list[PoEntry]) -> None:
    plurals = {entry.key: entry.msgid_plural for entry in messages}
    wrong = [
        f"{s.where}: {s.msgid!r} has plural {s.msgid_plural!r}, django.po has "
        f"{plurals[(s.msgctxt, s.msgid)]!r}"
        for s in source_strings()
        if s.msgid_plural is not None and (s.msgctxt, s.msgid) in plurals
        and plurals[(s.msgctxt, s.msgid)] != s.msgid_plural
    ]
    assert not wrong, f"Run `{MAKEMESSAGES}`:\n  " + "\n  ".join(wrong)


# --- (c) the compiled catalogue is current and used -----------------------------------------


def _require_current_mo() -> None:
    if not MO_PATH.is_file():
        pytest.fail(f"{MO_PATH.relative_to(ROOT)} is missing: run `{COMPILEMESSAGES}`")
    if MO_PATH.stat().st_mtime < PO_PATH.stat().st_mtime:
        pytest.fail(f"{MO_PATH.relative_to(ROOT)} is older than django.po: "
                    f"run `{COMPILEMESSAGES}`")


def test_compiled_catalogue_matches_the_po(messages: list[PoEntry]) -> None:
    _require_current_mo()
    with MO_PATH.open("rb") as handle:
        compiled = stdlib_gettext.GNUTranslations(handle)
    stale = []
    for entry in messages:
        if entry.msgid_plural is not None:
            got = (compiled.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, 1)
                   if entry.msgctxt is not None
                   else compiled.ngettext(entry.msgid, entry.msgid_plural, 1))
        elif entry.msgctxt is not None:
            got = compiled.pgettext(entry.msgctxt, entry.msgid)
        else:
            got = compiled.gettext(entry.msgid)
        if got != entry.msgstr.get(0):
            stale.append(entry.where())
    assert not stale, (
        f"django.mo does not match django.po: run `{COMPILEMESSAGES}`. Differing:\n  "
        + "\n  ".join(stale)
    )


def test_intake_messages_render_in_chinese_and_english() -> None:
    _require_current_mo()
    from issues.services.intake import MSG_CATEGORY_REQUIRED, MSG_OUTSIDE_AREA, MSG_PHOTOS_REQUIRED

    english = {
        MSG_OUTSIDE_AREA: "This place is outside every subdistrict this platform serves.",
        MSG_PHOTOS_REQUIRED: "Add at least one photo.",
        MSG_CATEGORY_REQUIRED: "Choose a category.",
    }
    with translation.override("zh-hans"):
        for message in english:
            assert CJK.search(str(message)), f"not translated into Chinese: {str(message)!r}"
        assert "街道" in str(MSG_OUTSIDE_AREA)
    with translation.override("en"):
        for message, text in english.items():
            assert str(message) == text


def test_interpolated_message_keeps_its_value() -> None:
    _require_current_mo()
    from issues.services.intake import MSG_RATE_LIMITED

    with translation.override("zh-hans"):
        text = str(MSG_RATE_LIMITED) % {"minutes": 17}
    assert "17" in text and CJK.search(text), text


def test_no_entry_is_left_over(messages: list[PoEntry]) -> None:
    """An entry that no source string names any more is dead weight a translator keeps
    translating; makemessages --no-obsolete drops it."""
    used = {(s.msgctxt, s.msgid) for s in source_strings() + template_strings()}
    left_over = sorted(entry.where() for entry in messages if entry.key not in used)
    assert not left_over, (
        f"{len(left_over)} entr(ies) of django.po match no source string; run `{MAKEMESSAGES}`:"
        "\n  " + "\n  ".join(left_over))
