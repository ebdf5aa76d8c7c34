"""Small database helpers shared by the bulk paths and intake's writes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    connection,
    connections,
    router,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DEFERRED, Field, Model
from django.db.models.expressions import Col
from django.db.models.signals import post_save, pre_save

from civicmap.sql import CONSTRAINTS_DEFERRED, CONSTRAINTS_IMMEDIATE, truncate_sql

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Col, BaseDatabaseWrapper], Any]


def tables_truncate(*tables: str, restart_identity: bool = False) -> None:
    """TRUNCATE tables (with CASCADE), also inside a transaction that has written rows.

    PostgreSQL refuses TRUNCATE while this transaction's deferred foreign-key checks are
    pending, so they are run first; the constraints are deferred again afterwards.
    """
    with connection.cursor() as cursor:
        cursor.execute(CONSTRAINTS_IMMEDIATE)
        cursor.execute(truncate_sql(tables, restart_identity=restart_identity))
        cursor.execute(CONSTRAINTS_DEFERRED)


class _InsertShape:
    """What the ORM works out for every INSERT of one model, worked out once: the columns it
    writes (every concrete field but the auto primary key and generated fields), the ones it
    reads back (``db_returning_fields``: the key, generated fields) and the statement's text
    for each set of placeholders; the converters of what it reads back, per connection."""

    def __init__(self, model: type[Model]) -> None:
        meta = model._meta
        self.table = meta.db_table
        self.fields: list[Field] = [field for field in meta.local_concrete_fields
                                    if not field.generated and field is not meta.auto_field]
        self.returning: list[Field] = meta.db_returning_fields
        self.columns: list[Col] = [field.get_col(self.table) for field in self.returning]
        # Each column's converters, per connection (a thread's: a geometry's converter holds
        # that thread's GEOS reader).
        self._converters: WeakKeyDictionary[BaseDatabaseWrapper, list[list[Converter]]] = (
            WeakKeyDictionary())
        self._texts: dict[tuple[str, tuple[str, ...]], str] = {}  # by vendor and placeholders

    def text(self, placeholders: tuple[str, ...], database: BaseDatabaseWrapper) -> str:
        """``INSERT INTO … (…) VALUES (…) RETURNING …``, as SQLInsertCompiler.as_sql writes it."""
        key = (database.vendor, placeholders)
        if key not in self._texts:
            quote = database.ops.quote_name
            returning, _ = database.ops.return_insert_columns(self.returning)
            self._texts[key] = (
                f"INSERT INTO {quote(self.table)} "
                f"({', '.join(quote(field.column) for field in self.fields)}) "
                f"VALUES ({', '.join(placeholders)}) {returning}")
        return self._texts[key]

    def returned(self, row: tuple, database: BaseDatabaseWrapper) -> Iterator[tuple[str, Any]]:
        """(attname, value) of each column read back, through the converters
        SQLInsertCompiler.execute_sql applies."""
        converters = self._converters.get(database)
        if converters is None:
            converters = self._converters[database] = [
                [*database.ops.get_db_converters(column), *column.get_db_converters(database)]
                for column in self.columns]
        for field, column, functions, value in zip(self.returning, self.columns, converters, row,
                                                   strict=True):
            for converter in functions:
                value = converter(value, column, database)
            yield field.attname, value


_SHAPES: dict[type[Model], _InsertShape] = {}


def _placeholders(fields: Sequence[Field], values: Sequence, database: BaseDatabaseWrapper
                  ) -> tuple[str, ...]:
    """Each value's placeholder as the ORM's compilers write it: ``%s``, or the field's own
    (a geometry's: a transform when the SRIDs differ)."""
    return tuple(field.get_placeholder(value, None, database)
                 if hasattr(field, "get_placeholder") else "%s"
                 for field, value in zip(fields, values, strict=True))


def row_insert(*, instance: M) -> M:
    """Write a new model instance as ``instance.save()`` (or ``objects.create``) writes it: the
    same statement, values, signals, router call and rollback marking, the primary key and
    generated fields read back onto it; only the statement's text is built once per model,
    not by the ORM's compiler on every call (docs/BENCHMARKS.md §2, docs/DECISIONS.md D-079).

    For a model without parents (multi-table inheritance) and field values, not expressions
    (``F()``, functions): both raise TypeError.
    """
    model = type(instance)
    meta = model._meta
    if meta.parents:
        raise TypeError(f"row_insert: {meta.label} inherits from another model")
    shape = _SHAPES.get(model)
    if shape is None:
        shape = _SHAPES[model] = _InsertShape(model)
    alias = router.db_for_write(model, instance=instance)
    database = connections[alias]
    # As Model.save(): refuse an unsaved related object, take the related object's key.
    instance._prepare_related_fields_for_save(operation_name="save")
    pre_save.send(sender=model, instance=instance, raw=False, using=alias, update_fields=None)
    values = []
    for field in shape.fields:
        value = field.pre_save(instance, True)
        if hasattr(value, "resolve_expression"):
            raise TypeError(f"row_insert: {meta.label}.{field.name} is an expression")
        values.append(field.get_db_prep_save(value, connection=database))
    placeholders = _placeholders(shape.fields, values, database)
    with transaction.mark_for_rollback_on_error(using=alias), database.cursor() as cursor:
        cursor.execute(shape.text(placeholders, database), values)
        row = cursor.fetchone()
    for attname, value in shape.returned(row, database):
        setattr(instance, attname, value)
    instance._state.adding = False
    instance._state.db = alias
    post_save.send(sender=model, instance=instance, created=True, update_fields=None, raw=False,
                   using=alias)
    return instance


_UPDATE_TEXTS: dict[tuple[type[Model], str, tuple[str, ...], tuple[str, ...]], str] = {}


def row_update(*, instance: M, fields: Sequence[str]) -> M:
    """Write ``fields`` of a saved instance as ``instance.save(update_fields=fields)`` writes
    them: the same statement and values (each field's ``pre_save`` and ``get_db_prep_save``),
    the save signals with ``update_fields``, the router call, the rollback marking on error,
    and DatabaseError when no row was updated; only the statement's text is built once per
    model and fields, not by the ORM's compiler on every call (D-082).

    For a model without parents (multi-table inheritance) and field values, not expressions:
    both raise TypeError, as ``row_insert``.
    """
    model = type(instance)
    meta = model._meta
    if meta.parents:
        raise TypeError(f"row_update: {meta.label} inherits from another model")
    update_fields = frozenset(fields)
    if not update_fields:
        return instance
    unknown = update_fields.difference(meta._non_pk_concrete_field_names)
    if unknown:
        raise ValueError("The following fields do not exist in this model, are m2m fields, "
                         "primary keys, or are non-concrete fields: " + ", ".join(unknown))
    instance._prepare_related_fields_for_save(operation_name="save")
    alias = router.db_for_write(model, instance=instance)
    database = connections[alias]
    pk_value = instance.pk
    if pk_value is None:
        raise ValueError("Cannot force an update in save() with no primary key.")
    pre_save.send(sender=model, instance=instance, raw=False, using=alias,
                  update_fields=update_fields)
    targets = [field for field in meta.local_concrete_fields
               if not field.primary_key and not field.generated
               and (field.name in update_fields or field.attname in update_fields)]
    values = []
    for field in targets:
        value = field.pre_save(instance, False)
        if hasattr(value, "resolve_expression"):
            raise TypeError(f"row_update: {meta.label}.{field.name} is an expression")
        if hasattr(value, "prepare_database_save"):  # a model instance for a relation
            value = value.prepare_database_save(field)
        else:
            value = field.get_db_prep_save(value, connection=database)
        values.append(value)
    placeholders = _placeholders(targets, values, database)
    key = (model, database.vendor, tuple(field.column for field in targets), placeholders)
    text = _UPDATE_TEXTS.get(key)
    if text is None:
        quote = database.ops.quote_name
        table = quote(meta.db_table)
        text = _UPDATE_TEXTS[key] = (
            f"UPDATE {table} SET "
            + ", ".join(f"{quote(field.column)} = {placeholder}"
                        for field, placeholder in zip(targets, placeholders, strict=True))
            + f" WHERE {table}.{quote(meta.pk.column)} = %s")
    with transaction.mark_for_rollback_on_error(using=alias):
        with database.cursor() as cursor:
            cursor.execute(text, [*values, meta.pk.get_db_prep_value(pk_value, database)])
            updated = cursor.rowcount
        if not updated:
            raise DatabaseError("Save with update_fields did not affect any rows.")
    instance._state.db = alias
    instance._state.adding = False
    post_save.send(sender=model, instance=instance, created=False, update_fields=update_fields,
                   raw=False, using=alias)
    return instance


# --- reads built once, loaded as the ORM loads them (docs/DECISIONS.md D-078) ----------------

def columns_sql(*, model: type[Model], alias: str) -> str:
    """Every concrete column of ``model`` as ``alias."column"``, in field order: one model's
    share of a SELECT whose rows ``joined_instances`` loads."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def joined_instances(*, models: Sequence[type[Model]], row: Sequence) -> list[Model | None]:
    """Each model's instance from its slice of ``row`` (``columns_sql`` of each, in order), as
    the ORM's select_related loads them; None for a LEFT JOIN that found no row (its primary
    key is NULL)."""
    instances: list[Model | None] = []
    start = 0
    for model in models:
        fields = model._meta.concrete_fields
        values = list(row[start:start + len(fields)])
        start += len(fields)
        pk_index = fields.index(model._meta.pk)
        instances.append(None if values[pk_index] is None else model.from_db(
            DEFAULT_DB_ALIAS, [field.attname for field in fields], values))
    return instances


def instance_loaded(*, model: type[M], **values) -> M:
    """An instance of ``model`` as the database gave these fields (by attname), the others
    deferred: what ``.only()`` makes of a row (a deferred field reads itself when asked for)."""
    return model.from_db(DEFAULT_DB_ALIAS, list(values),
                         [values.get(field.attname, DEFERRED) for field in
                          model._meta.concrete_fields])
