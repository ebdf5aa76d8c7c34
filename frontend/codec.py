"""JSON for the map selectors' frozen dataclasses (``frontend.selectors``), so that a snapshot
of the layers can be stored in a JSONField and read back as the very values the selectors
return.

Driven by the dataclasses' type hints, so a field added to a layer needs no change here. JSON
has no datetimes and no tuples: datetimes are written as ISO 8601 with their UTC offset and
read back aware; a ``tuple[...]`` hint turns a JSON array back into a tuple (a hotspot's
``(category, cases)`` pairs). Plain values (str, int, float, bool, None, GeoJSON dicts) pass as
they are; floats survive exactly (Python writes the shortest repr that reads back the same
number, and PostgreSQL's jsonb keeps its digits).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


def dataclass_to_json(value: Any) -> Any:
    """``value`` (a dataclass, or lists, tuples and dicts of them) as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: dataclass_to_json(getattr(value, item.name))
                for item in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [dataclass_to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: dataclass_to_json(item) for key, item in value.items()}
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the maps keep aware times")
        return value.isoformat()
    return value


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    # The selectors use ``from __future__ import annotations``: their hints are strings until
    # resolved in their module's namespace.
    return typing.get_type_hints(kind)


def dataclass_from_json(kind: type[T], data: Any) -> T:
    """The value of type ``kind`` that ``dataclass_to_json`` wrote as ``data``."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is list:
        return [dataclass_from_json(args[0], item) for item in data]  # type: ignore[return-value]
    if origin is tuple:
        return tuple(dataclass_from_json(arg, item)  # type: ignore[return-value]
                     for arg, item in zip(args, data, strict=True))
    if kind is datetime:
        return datetime.fromisoformat(data)  # type: ignore[return-value]
    if dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        return kind(**{item.name: dataclass_from_json(hints[item.name], data[item.name])
                       for item in dataclasses.fields(kind)})
    return data
