"""The order book's inserts, in one round trip where the database allows it.

A row of the book (an :class:`~.models.Order`, an :class:`~.models.AccountNumber`) may be
created by two dispatches at once: the unique constraint decides, and whoever loses
reads the winner's row. With the ORM that is three statements for a new row (look,
insert ignoring conflicts, look again to learn the id), and one more for its history.
On PostgreSQL one statement inserts the rows, says which it created, and records their
first change: ``WITH n AS (INSERT … ON CONFLICT DO NOTHING RETURNING …), c AS (INSERT
INTO <history> SELECT … FROM n) SELECT … FROM n``. A row this transaction inserted is
locked by it until it commits, as a row read ``FOR UPDATE`` would be. The SQL is written
from the models' metadata; every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.db import connections, models

__all__ = ["FirstChange", "insert_new"]

_Row = TypeVar("_Row", bound=models.Model)


@dataclass(frozen=True)
class FirstChange:
    """The history row to record for each row :func:`insert_new` creates: its model,
    the foreign key that points at the new row, and every other field's value (the
    same for all the rows of one call)."""

    model: type[models.Model]
    parent: str
    values: Mapping[str, Any]


def insert_new(
    db: str,
    rows: Sequence[_Row],
    key: str,
    first_change: FirstChange | None = None,
    *,
    alike: bool = False,
) -> dict[Any, _Row] | None:
    """Insert ``rows``, skipping any that conflict with a row already there; the rows
    inserted by their ``key`` field's value, each with its primary key set and saved
    state (so it can be updated or referred to), and, with ``first_change``, its history
    row recorded in the same statement. None where the database cannot say which rows it
    inserted in the same statement (every backend but PostgreSQL here): the caller then
    inserts through the ORM and reads back.

    ``alike``: the rows differ only in ``key`` (a notification's numbers, all put in one
    state by one order). They then go as one array, ``unnest``-ed by the server, and the
    other values once each: a statement of a dozen parameters whatever the row count (a
    ``VALUES`` list of 5,000 rows is 40,000 parameters, slow to send and to prepare).
    """
    connection = connections[db]
    if connection.vendor != "postgresql" or not rows:
        return None
    meta = type(rows[0])._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.local_concrete_fields if not f.primary_key]
    pk = quote(str(meta.pk.column))
    key_field = cast("models.Field[Any, Any]", meta.get_field(key))
    columns = ", ".join(quote(str(f.column)) for f in fields)
    if alike and len(rows) > 1:
        first = rows[0]
        selected = ", ".join("k.v" if f is key_field else "%s" for f in fields)
        source = f"SELECT {selected} FROM unnest(%s::text[]) AS k(v)"  # noqa: S608
        params: list[Any] = [
            field.get_db_prep_save(getattr(first, field.attname), connection)
            for field in fields
            if field is not key_field
        ]
        params.append([getattr(row, key_field.attname) for row in rows])
    else:
        placeholder = f"({', '.join(['%s'] * len(fields))})"
        source = f"VALUES {', '.join([placeholder] * len(rows))}"
        params = [
            field.get_db_prep_save(getattr(row, field.attname), connection)
            for row in rows
            for field in fields
        ]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) {source} "
        f"ON CONFLICT DO NOTHING RETURNING {pk}, {quote(str(key_field.column))}"
    )
    if first_change is not None:
        change_meta = first_change.model._meta
        change_fields = [f for f in change_meta.local_concrete_fields if not f.primary_key]
        change_selected = [
            f"n.{pk}" if f.name == first_change.parent else "%s" for f in change_fields
        ]
        params += [
            f.get_db_prep_save(first_change.values[f.name], connection)
            for f in change_fields
            if f.name != first_change.parent
        ]
        sql = (
            f"WITH n AS ({sql}), c AS ("  # noqa: S608 - names from the metadata
            f"INSERT INTO {quote(change_meta.db_table)} "
            f"({', '.join(quote(str(f.column)) for f in change_fields)}) "
            f"SELECT {', '.join(change_selected)} FROM n) "
            f"SELECT {pk}, {quote(str(key_field.column))} FROM n"
        )
    by_key = {getattr(row, key_field.attname): row for row in rows}
    inserted: dict[Any, _Row] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row_pk, row_key in cursor.fetchall():
            row = by_key[row_key]
            row.pk = row_pk
            row._state.adding = False
            row._state.db = db
            inserted[row_key] = row
    return inserted
