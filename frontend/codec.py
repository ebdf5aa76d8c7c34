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
from collections.abc import Callable
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


def dataclass_from_json(kind: type[T], data: Any) -> T:
    """The value of type ``kind`` that ``dataclass_to_json`` wrote as ``data``."""
    return _decoder(kind)(data)


def _as_is(data: Any) -> Any:
    return data


@functools.cache
def _decoder(kind: Any) -> Callable[[Any], Any]:
    """A function that reads JSON of type ``kind``, built once per type: a snapshot holds
    thousands of cells and grids, and looking at the type hints for each of them took longer
    than parsing the JSON."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is list:
        item = _decoder(args[0])
        return _as_is if item is _as_is else lambda data: [item(value) for value in data]
    if origin is tuple:
        items = [_decoder(arg) for arg in args]
        return lambda data: tuple(read(value) for read, value in zip(items, data, strict=True))
    if kind is datetime:
        return datetime.fromisoformat
    if dataclasses.is_dataclass(kind):
        # The selectors use ``from __future__ import annotations``: their hints are strings
        # until resolved in their module's namespace.
        hints = typing.get_type_hints(kind)
        readers = [(item.name, _decoder(hints[item.name])) for item in dataclasses.fields(kind)]
        converted = [(name, read) for name, read in readers if read is not _as_is]
        if not converted:  # plain values only (a cell, a grid): the fields as they are
            return lambda data: kind(**data)
        return lambda data: kind(**(data | {name: read(data[name]) for name, read in converted}))
    return _as_is
