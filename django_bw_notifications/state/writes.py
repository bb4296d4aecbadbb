"""The order book's inserts, in one round trip where the database allows it.

A row of the book (an :class:`~.models.Order`, an :class:`~.models.AccountNumber`) may be
created by two dispatches at once: the unique constraint decides, and whoever loses
reads the winner's row. With the ORM that is three statements for a new row (look,
insert ignoring conflicts, look again to learn the id). On PostgreSQL one statement does
the insert and says which rows it created: ``INSERT … ON CONFLICT DO NOTHING RETURNING``.
A row this transaction inserted is locked by it until it commits, as a row read
``FOR UPDATE`` would be. The SQL is written from the models' metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from django.db import connections, models

__all__ = ["insert_new"]

_Row = TypeVar("_Row", bound=models.Model)


def insert_new(db: str, rows: Sequence[_Row], key: str) -> dict[Any, _Row] | None:
    """Insert ``rows``, skipping any that conflict with a row already there; the rows
    inserted by their ``key`` field's value, each with its primary key set and saved
    state (so it can be updated or referred to). None where the database cannot say
    which rows it inserted in the same statement (every backend but PostgreSQL here):
    the caller then inserts through the ORM and reads back.
    """
    connection = connections[db]
    if connection.vendor != "postgresql" or not rows:
        return None
    model = type(rows[0])
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.local_concrete_fields if not f.primary_key]
    pk = meta.pk
    key_field = cast("models.Field[Any, Any]", meta.get_field(key))
    placeholder = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608 - names from the metadata
        f"({', '.join(quote(str(f.column)) for f in fields)}) "
        f"VALUES {', '.join([placeholder] * len(rows))} "
        f"ON CONFLICT DO NOTHING "
        f"RETURNING {quote(str(pk.column))}, {quote(str(key_field.column))}"
    )
    params = [
        field.get_db_prep_save(getattr(row, field.attname), connection)
        for row in rows
        for field in fields
    ]
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
