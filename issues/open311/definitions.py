"""Service attributes (the Open311 "service definitions"), kept as data, and their validation.

A category that needs more facts than a place, a description and a photo has attributes here,
keyed by its group (every category of the group) or by its own code; the group's come first.
A category with none has ``metadata=false``. Posted values (``attribute[CODE]=v``, and
``attribute[CODE][]=v`` repeated for lists) are checked against the definition and stored on the
report's ``attributes`` as ``{code: value}``: a string for string, text, datetime (ISO 8601, +08:00)
and singlevaluelist, a list of keys for multivaluelist, a number for number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from civicmap.bounds import CLIENT_TIME_AHEAD_MAX, CLIENT_TIME_MIN
from civicmap.errors import FieldError
from issues.models import Category
from issues.services.intake import MSG_BAD_DATETIME, MSG_NOT_A_NUMBER, MSG_TIME_RANGE

BEIJING = ZoneInfo("Asia/Shanghai")  # UTC+08:00 all year (no daylight saving)

STRING, TEXT, NUMBER, DATETIME = "string", "text", "number", "datetime"
SINGLE, MULTI = "singlevaluelist", "multivaluelist"
DATATYPES = (STRING, NUMBER, DATETIME, TEXT, SINGLE, MULTI)
STRING_MAX = 200  # characters of a string attribute
TEXT_MAX = 2000  # characters of a text attribute

MSG_ATTRIBUTE_UNKNOWN = _("This service has no such attribute.")
MSG_ATTRIBUTE_REQUIRED = _("This attribute is required.")
MSG_ATTRIBUTE_ONE_VALUE = _("Give one value only.")
MSG_ATTRIBUTE_NOT_LISTED = _("Not one of the listed values: %(keys)s.")
MSG_ATTRIBUTE_WHOLE_NUMBER = _("A whole number, %(minimum)s or more.")
MSG_ATTRIBUTE_TOO_LONG = _("At most %(limit)s characters.")
MSG_ATTRIBUTE_DATETIME_HINT = _("An ISO 8601 date and time, e.g. 2026-06-01T22:30:00+08:00.")

ATTRIBUTE_PARAM = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


@dataclass(frozen=True)
class AttributeValue:
    key: str
    name: str | Promise


@dataclass(frozen=True)
class ServiceAttribute:
    """One attribute of a service definition (GeoReport v2 field names)."""

    code: str
    datatype: str
    description: str | Promise
    required: bool = False
    values: tuple[AttributeValue, ...] = ()
    whole_minimum: int | None = None  # number: a whole number at least this

    def __post_init__(self) -> None:
        assert self.datatype in DATATYPES, self.datatype
        assert bool(self.values) == (self.datatype in (SINGLE, MULTI)), self.code

    @property
    def datatype_description(self) -> str:
        """Rendered when asked for, so that it is in the request's language."""
        if self.whole_minimum is not None:
            return str(MSG_ATTRIBUTE_WHOLE_NUMBER % {"minimum": self.whole_minimum})
        if self.datatype == DATETIME:
            return str(MSG_ATTRIBUTE_DATETIME_HINT)
        if self.datatype in (STRING, TEXT):
            limit = STRING_MAX if self.datatype == STRING else TEXT_MAX
            return str(MSG_ATTRIBUTE_TOO_LONG % {"limit": limit})
        return ""


HAZARD_LEVEL = ServiceAttribute(
    code="hazard_level", datatype=SINGLE, required=True,
    description=_("How dangerous is it now?"),
    values=(
        AttributeValue("low", _("Low: no one is at risk right now")),
        AttributeValue("medium", _("Medium: it could hurt someone soon")),
        AttributeValue("high", _("High: people are in danger now")),
    ),
)
PEOPLE_HURT = ServiceAttribute(
    code="people_hurt", datatype=SINGLE,
    description=_("Is anyone hurt or trapped?"),
    values=(
        AttributeValue("no", _("No one")),
        AttributeValue("yes", _("Yes, someone is hurt or trapped")),
        AttributeValue("unknown", _("Cannot tell")),
    ),
)
COVER_STATE = ServiceAttribute(
    code="cover_state", datatype=SINGLE, required=True,
    description=_("What is wrong with the cover?"),
    values=(
        AttributeValue("missing", _("Missing: the hole is open")),
        AttributeValue("broken", _("Broken or cracked")),
        AttributeValue("loose", _("Loose or rocking")),
        AttributeValue("sunken", _("Sunken or raised above the road")),
    ),
)
LAMPS_OUT = ServiceAttribute(
    code="lamps_out", datatype=NUMBER, whole_minimum=1,
    description=_("How many lamps in a row are out?"),
)
BIKE_COUNT = ServiceAttribute(
    code="count", datatype=NUMBER, whole_minimum=1,
    description=_("About how many bicycles or e-bikes?"),
)
CONSTRUCTION_WHEN = ServiceAttribute(
    code="when", datatype=MULTI,
    description=_("When does it happen? Choose all that apply."),
    values=(
        AttributeValue("day", _("In the daytime (06:00-22:00)")),
        AttributeValue("night", _("At night (22:00-06:00)")),
        AttributeValue("weekend", _("At weekends")),
    ),
)
NOISE_NOTICED_AT = ServiceAttribute(
    code="noticed_at", datatype=DATETIME,
    description=_("When did you first notice it?"),
)
SIGNBOARD_TEXT = ServiceAttribute(
    code="signboard_text", datatype=STRING,
    description=_("What does the signboard say?"),
)
STRUCTURE_DETAILS = ServiceAttribute(
    code="structure_details", datatype=TEXT,
    description=_("What is being built, and since when?"),
)

# Every category of a group (the GB/T 30428 major class) has these.
ATTRIBUTES_BY_GROUP: dict[str, tuple[ServiceAttribute, ...]] = {
    "E04": (HAZARD_LEVEL, PEOPLE_HURT),  # emergencies (突发事件)
    "E03": (CONSTRUCTION_WHEN,),  # construction management (施工管理)
}
# Categories with facts of their own, after their group's.
ATTRIBUTES_BY_CATEGORY: dict[str, tuple[ServiceAttribute, ...]] = {
    "C0101": (COVER_STATE,),  # 井盖缺失或破损
    "C0103": (LAMPS_OUT,),  # 路灯不亮或损坏
    "E0301": (NOISE_NOTICED_AT,),  # 施工扰民
    "E0104": (STRUCTURE_DETAILS,),  # 私搭乱建
    "E0202": (SIGNBOARD_TEXT,),  # 违规广告牌匾
    "E0502": (BIKE_COUNT,),  # 非机动车乱停放
}


def service_attributes(*, category: Category) -> tuple[ServiceAttribute, ...]:
    """The category's attributes in their order: its group's, then its own."""
    return (ATTRIBUTES_BY_GROUP.get(category.group.code, ())
            + ATTRIBUTES_BY_CATEGORY.get(category.code, ()))


def attribute_param_values(params: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """``attribute[CODE]`` and ``attribute[CODE][]`` form values by code; empty ones dropped
    (an empty parameter is an absent one)."""
    found: dict[str, list[str]] = {}
    for name, values in params.items():
        match = ATTRIBUTE_PARAM.match(name)
        if match is None:
            continue
        kept = [value.strip() for value in values if value and value.strip()]
        if kept:
            found.setdefault(match.group(1), []).extend(kept)
    return found


def attributes_validate(*, attributes: Sequence[ServiceAttribute],
                        posted: Mapping[str, list[str]]) -> tuple[dict, list[FieldError]]:
    """The values to store and every error, each naming its ``attribute[CODE]`` parameter."""
    known = {attribute.code: attribute for attribute in attributes}
    errors = [FieldError(f"attribute[{code}]", "unknown", MSG_ATTRIBUTE_UNKNOWN)
              for code in posted if code not in known]
    values: dict = {}
    for attribute in attributes:
        field = f"attribute[{attribute.code}]"
        raw = posted.get(attribute.code, [])
        if not raw:
            if attribute.required:
                errors.append(FieldError(field, "required", MSG_ATTRIBUTE_REQUIRED))
            continue
        if attribute.datatype != MULTI and len(raw) > 1:
            errors.append(FieldError(field, "one_value", MSG_ATTRIBUTE_ONE_VALUE))
            continue
        value, error = _value_parse(attribute, raw)
        if error is not None:
            errors.append(FieldError(field, "invalid", error))
        else:
            values[attribute.code] = value
    return values, errors


def _value_parse(attribute: ServiceAttribute, raw: list[str]):
    """(value, None) or (None, message)."""
    if attribute.datatype in (SINGLE, MULTI):
        keys = [value.key for value in attribute.values]
        if any(item not in keys for item in raw):
            return None, MSG_ATTRIBUTE_NOT_LISTED % {"keys": ", ".join(keys)}
        return (raw[0] if attribute.datatype == SINGLE
                else [key for key in keys if key in raw]), None  # listed order, no repeats
    text = raw[0]
    if attribute.datatype == NUMBER:
        try:
            number = float(text)
        except ValueError:
            return None, MSG_NOT_A_NUMBER
        if not math.isfinite(number):
            return None, MSG_NOT_A_NUMBER
        if attribute.whole_minimum is not None:
            if number != int(number) or number < attribute.whole_minimum:
                return None, MSG_ATTRIBUTE_WHOLE_NUMBER % {"minimum": attribute.whole_minimum}
            return int(number), None
        return number, None
    if attribute.datatype == DATETIME:
        try:
            moment = parse_datetime(text)
        except ValueError:  # well formed, but no such date or time (2026-02-30)
            moment = None
        if moment is None:
            return None, MSG_BAD_DATETIME
        if timezone.is_naive(moment):  # a wall time without an offset is Beijing time
            moment = moment.replace(tzinfo=BEIJING)
        if not CLIENT_TIME_MIN <= moment <= timezone.now() + CLIENT_TIME_AHEAD_MAX:
            return None, MSG_TIME_RANGE  # and past Python's years 1 to 9999 once in Beijing
        return moment.astimezone(BEIJING).isoformat(timespec="seconds"), None
    limit = STRING_MAX if attribute.datatype == STRING else TEXT_MAX
    if len(text) > limit:
        return None, MSG_ATTRIBUTE_TOO_LONG % {"limit": limit}
    return text, None
