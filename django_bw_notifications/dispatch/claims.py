"""The SQL of a dispatch's claim and of its record, written from the models' metadata.

A claim locks the notification's row if it is still eligible (``SELECT … FOR UPDATE``,
or on SQLite a write that changes nothing and so takes the write lock); a record updates
the row (state, ``attempts`` + 1, the errors) only where its ``attempts`` are still the
claimed ones, and keeps the attempt in the history. On PostgreSQL with psycopg 3 each
travels with its neighbour in one message (the first receiver's savepoint with the
claim; the history's INSERT and the ``COMMIT`` with the record). Compiling these through
the ORM would cost more Python on every dispatch than the database spends running them.
The transaction they run in, and the receivers between them, are
:mod:`django_bw_notifications.dispatch.receivers`'s.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.core.exceptions import FullResultSet
from django.db import connections
from django.db.models import F, Field, Q
from django.db.models.expressions import RawSQL

from ..database.deadlines import Watch, severed_at
from ..database.roundtrips import several_statements_per_message
from ..models import DispatchAttempt, Notification, ProcessingState

__all__ = ["WAITING", "claim", "ours_within", "record", "record_with_history"]


#: States a first dispatch, a task or a retry may claim; the callers narrow it further.
WAITING = Q(processing_state__in=[ProcessingState.PENDING, ProcessingState.FAILED])


def ours_within(db: str, seconds: float | None) -> contextlib.AbstractContextManager[Watch | None]:
    """Bound our own statements (the claim, the record) on PostgreSQL: past ``seconds``
    the connection is severed, the transaction is lost whole, the row is as it was."""
    connection = connections[db]
    if seconds is None or connection.vendor != "postgresql":
        return contextlib.nullcontext()  # SQLite: the busy timeout bounds the wait
    connection.ensure_connection()
    return severed_at(time.monotonic() + seconds, connection.connection)


def claim(
    db: str,
    notification_id: int,
    eligible: Q,
    pinned: int | None,
    notification: Notification | None,
    skip_locked: bool,
    first_savepoint: bool = True,
) -> tuple[Notification, str | None] | None:
    """Inside the dispatch's transaction: lock the row if still eligible (and its
    ``attempts`` still ``pinned``, when given), else None. With the row, the savepoint
    the claim opened for the first receiver, if it did (see :func:`_lock_in_memory`;
    never with ``first_savepoint=False``: the order book writes before any receiver).

    PostgreSQL (and other backends with row locks): ``SELECT … FOR UPDATE``. SQLite:
    a write that changes nothing, which takes the database's write lock first (waiting
    its busy timeout), so the outcome's write can never fail on a lock upgrade.
    """
    connection = connections[db]
    if notification is not None and (pinned is not None or connection.vendor == "postgresql"):
        locked = _lock_in_memory(
            db, notification_id, eligible, pinned, skip_locked, first_savepoint
        )
        if locked is None:
            return None
        notification.attempts, opened = locked
        return notification, opened
    rows = Notification.objects.using(db).filter(pk=notification_id).filter(eligible)
    if pinned is not None:
        rows = rows.filter(attempts=pinned)
    if connection.features.has_select_for_update:
        rows = rows.select_for_update(skip_locked=skip_locked)
    elif not rows.update(attempts=F("attempts")):
        return None
    if connection.vendor == "postgresql":
        # Read with the claim, so it costs no statement (see _ASYNC_COMMIT).
        rows = rows.annotate(_commit=RawSQL(_ASYNC_COMMIT, ()))  # noqa: S611 - a constant
    if notification is None:
        found = rows.first()
        return None if found is None else (found, None)
    attempts = rows.values_list("attempts", flat=True).first()
    if attempts is None:
        return None
    notification.attempts = attempts
    return notification, None


def _lock_in_memory(
    db: str,
    notification_id: int,
    eligible: Q,
    pinned: int | None,
    skip_locked: bool,
    first_savepoint: bool,
) -> tuple[int, str | None] | None:
    """The claim of a row already in memory (every first dispatch), written from the
    model's metadata, its eligibility compiled once per process (:func:`_eligible_sql`):
    the row's ``attempts`` and the savepoint opened for the first receiver in the same
    message (PostgreSQL with psycopg 3: one round trip fewer), or None if not claimed.
    Without row locks (SQLite) ``pinned`` is required: the no-op UPDATE that takes the
    write lock matches it or nothing."""
    connection = connections[db]
    quote = connection.ops.quote_name
    table = quote(Notification._meta.db_table)
    pk, attempts = (
        quote(str(cast("Field[Any, Any]", Notification._meta.get_field(name)).column))
        for name in ("id", "attempts")
    )
    where = [f"{table}.{pk} = %s"]
    params: list[Any] = [notification_id]
    if pinned is not None:
        where.append(f"{table}.{attempts} = %s")
        params.append(pinned)
    condition, condition_params = _eligible_sql(db, eligible)
    if condition:
        where.append(f"({condition})")
        params.extend(condition_params)
    if connection.features.has_select_for_update:
        # Read with the claim, so it costs no statement (see _ASYNC_COMMIT).
        commit = f", {_ASYNC_COMMIT}" if connection.vendor == "postgresql" else ""
        sql = (
            f"SELECT {table}.{attempts}{commit} FROM {table} "  # noqa: S608 - names
            f"WHERE {' AND '.join(where)} FOR UPDATE{' SKIP LOCKED' if skip_locked else ''}"
        )
        opened = None
        if first_savepoint and several_statements_per_message(connection):
            opened = _FIRST_SAVEPOINT
            sql += f"; {connection.ops.savepoint_create_sql(opened)}"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return None if row is None else (int(row[0]), opened)
    assert pinned is not None
    sql = (
        f"UPDATE {table} SET {attempts} = {attempts} "  # noqa: S608 - quoted names
        f"WHERE {' AND '.join(where)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return (pinned, None) if cursor.rowcount == 1 else None


#: The savepoint a claim opens for the first receiver in its own message.
_FIRST_SAVEPOINT = "bw_notifications_receiver"


@functools.lru_cache(maxsize=32)
def _eligible_sql(db: str, eligible: Q) -> tuple[str, tuple[Any, ...]]:
    """``eligible`` as a WHERE clause on the notifications table (empty: any row)."""
    query = Notification.objects.using(db).filter(eligible).query
    try:
        sql, params = query.get_compiler(db).compile(query.where)
    except FullResultSet:
        return "", ()
    return sql, tuple(params)


#: A dispatch's transaction commits without waiting for the disk. The only thing a
#: server crash in the next fraction of a second can lose is the attempt itself, with
#: everything its receivers wrote: the row is then as it was before (``pending`` or
#: ``failed``), where the sweeper or a replay finds it, exactly as after a worker killed
#: mid-dispatch. The delivery's own row is committed synchronously before the 200.
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"


def record_with_history(
    db: str,
    notification: Notification,
    started: Any,
    state: str,
    error: str,
    history: Mapping[str, Any],
) -> bool:
    """Record the attempt on the row (if no other claimer did meanwhile) and keep it in
    the history (``history``: the ``DispatchAttempt``'s values by field
    name); False when another claimer recorded one first. The order book's links on
    the instance (``order_entry``, ``copy_of``) are written with it, when set.

    On PostgreSQL one statement does both (the history's INSERT reads the UPDATE's
    ``RETURNING``): one round trip fewer for every dispatch. Both are written from the
    models' metadata: compiling them through the ORM costs more Python, on every
    dispatch, than the database spends running them.
    """
    connection = connections[db]
    statements = _recording_statements(db)
    last_attempt_at = Notification._meta.get_field("last_attempt_at")
    record_params = [
        state,
        cast("Field[Any, Any]", last_attempt_at).get_db_prep_save(started, connection),
        error,
        notification.order_entry_id,
        notification.copy_of_id,
        notification.pk,
        notification.attempts,
    ]
    with connection.cursor() as cursor:
        if statements.together:
            params = [
                field.get_db_prep_save(history[field.name], connection)
                for field in statements.together_fields
            ]
            sql = statements.together
            if _ends_here(connection):
                # The dispatch's own transaction ends with its record, in the same
                # message: one round trip fewer. The claim holds the row with its
                # attempts pinned, so the record cannot miss; a failure anywhere in the
                # message rolls it all back. Django's COMMIT then finds no transaction
                # open, and psycopg sends nothing for it.
                sql += "; COMMIT"
            cursor.execute(sql, [*record_params, *params])
            return bool(cursor.rowcount == 1)
        cursor.execute(statements.record, record_params)
        if cursor.rowcount != 1:
            return False
        params = [
            field.get_db_prep_save(history[field.name], connection)
            for field in statements.history_fields
        ]
        cursor.execute(statements.history, params)
        return True


@dataclass(frozen=True)
class _Recording:
    """The SQL that records an attempt, made once per database (see
    :func:`_recording_statements`)."""

    #: ``UPDATE`` the row (state, attempts + 1, when, errors, the book's links) where its
    #: id and attempts are still the claimed ones.
    record: str
    #: ``INSERT`` the attempt into the history, every value a parameter.
    history: str
    history_fields: tuple[Field[Any, Any], ...]
    #: PostgreSQL: both in one statement, the history's INSERT reading the UPDATE's
    #: ``RETURNING`` (the notification and the attempt's number); else empty.
    together: str
    together_fields: tuple[Field[Any, Any], ...]


@functools.lru_cache(maxsize=8)
def _recording_statements(alias: str) -> _Recording:
    connection = connections[alias]
    quote = connection.ops.quote_name
    column = {
        name: quote(str(cast("Field[Any, Any]", Notification._meta.get_field(name)).column))
        for name in (
            "id",
            "attempts",
            "processing_state",
            "last_attempt_at",
            "last_error",
            "order_entry",
            "copy_of",
        )
    }
    # Quoted names from the models' metadata; every value is a parameter. The order
    # book's links (set on the instance by state.book) ride along: never cleared here.
    record = (
        f"UPDATE {quote(Notification._meta.db_table)} SET "  # noqa: S608
        f"{column['processing_state']} = %s, {column['attempts']} = {column['attempts']} + 1, "
        f"{column['last_attempt_at']} = %s, {column['last_error']} = %s, "
        f"{column['order_entry']} = COALESCE(%s, {column['order_entry']}), "
        f"{column['copy_of']} = COALESCE(%s, {column['copy_of']}) "
        f"WHERE {column['id']} = %s AND {column['attempts']} = %s"
    )
    fields = tuple(f for f in DispatchAttempt._meta.local_concrete_fields if not f.primary_key)
    insert = (
        f"INSERT INTO {quote(DispatchAttempt._meta.db_table)} "
        f"({', '.join(quote(str(f.column)) for f in fields)}) "
    )
    history = f"{insert}VALUES ({', '.join(['%s'] * len(fields))})"
    if connection.vendor != "postgresql":
        return _Recording(record, history, fields, "", ())
    returned = {"notification": column["id"], "number": column["attempts"]}
    values = ", ".join(f"u.{returned[f.name]}" if f.name in returned else "%s" for f in fields)
    together = (
        f"WITH u AS ({record} RETURNING {', '.join(returned.values())}) "  # noqa: S608
        f"{insert}SELECT {values} FROM u"
    )
    together_fields = tuple(f for f in fields if f.name not in returned)
    return _Recording(record, history, fields, together, together_fields)


def _ends_here(connection: Any) -> bool:
    """True inside the dispatch's own transaction (not a caller's), on a connection that
    takes several statements per message (see :mod:`roundtrips`)."""
    return (
        len(connection.atomic_blocks) == 1
        and not connection.needs_rollback
        and several_statements_per_message(connection)
    )


def record(db: str, condition: Q, state: str, error: str, started: Any) -> int:
    """Record one attempt on the row matching ``condition``; the number of rows (0 or 1)."""
    return (
        Notification.objects.using(db)
        .filter(condition)
        .update(
            processing_state=state,
            attempts=F("attempts") + 1,
            last_attempt_at=started,
            last_error=error,
        )
    )
