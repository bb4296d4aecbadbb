"""Run a stored notification's receivers under a claim, and record the attempt.

Every dispatch, whoever starts it (the first one after the answer, a retry when a copy of
a failed notification arrives, a replay, a task, the sweeper), goes through
:func:`claim_and_dispatch`: one transaction that

1. claims the row: ``SELECT … FOR UPDATE SKIP LOCKED`` only if it is still eligible for
   this caller (a concurrent claimer finds nothing and moves on). The lock is the lease:
   it lasts exactly as long as the claimer lives, and PostgreSQL ends it when the
   claimer's connection dies;
2. runs every receiver in its own savepoint: one that raises has its own writes rolled
   back, the others still run, and its traceback is recorded;
3. records the attempt on the row (``attempts`` + 1, ``last_attempt_at``, the state and
   the errors), only if no other claimer recorded one meanwhile (on SQLite, which has no
   row locks, this is what keeps two claimers from both committing), and keeps it in the
   history (a ``DispatchAttempt``, so a later success does not erase a failure).

A process killed anywhere in between rolls everything back, the receivers' database
writes included: the row is as it was (``pending`` stays ``pending``, for the sweeper;
``failed`` stays ``failed``, for replay) and nothing half-done is committed. Receivers'
side effects outside the database can repeat in that case only.

When to dispatch (inline after the answer, or on a task queue) is decided by
:mod:`django_bw_notifications.scheduling`, not here.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from asgiref.sync import async_to_sync
from django.core.exceptions import FullResultSet
from django.db import OperationalError, connections, router, transaction
from django.db.models import F, Field, Q
from django.db.models.expressions import RawSQL
from django.db.transaction import TransactionManagementError
from django.dispatch import Signal
from django.utils import timezone

from .deadlines import Watch, severed_at
from .models import DispatchAttempt, Notification, ProcessingState
from .roundtrips import several_statements_per_message
from .signals import signals_for

__all__ = [
    "DispatchBusy",
    "DispatchOutcome",
    "ReceiverFailure",
    "Trigger",
    "claim_and_dispatch",
    "dispatch",
]

logger = logging.getLogger(__name__)


class Trigger(StrEnum):
    """Why a dispatch runs (logged with each attempt)."""

    FIRST = "first"
    #: A copy of a notification whose last dispatch failed arrived.
    RETRY = "retry"
    #: An operator asked (admin, API, command).
    REPLAY = "replay"
    #: A task on the queue.
    TASK = "task"
    #: ``bw_notifications_dispatch_pending`` found it unfinished.
    SWEEP = "sweep"


class DispatchBusy(Exception):
    """The notification is being dispatched by someone else right now."""


@dataclass(frozen=True, slots=True)
class ReceiverFailure:
    """A receiver that raised while handling a notification."""

    receiver: str
    error: str
    traceback: str

    def describe(self) -> str:
        """The text recorded in ``Notification.last_error``."""
        return f"{self.receiver} raised {self.error}\n{self.traceback}"


@dataclass(frozen=True, slots=True)
class DispatchOutcome:
    """What one dispatch of one notification did."""

    notification_id: int
    receivers_called: int
    failures: tuple[ReceiverFailure, ...]

    @property
    def succeeded(self) -> bool:
        """True when no receiver raised."""
        return not self.failures


#: States a first dispatch, a task or a retry may claim; the callers narrow it further.
WAITING = Q(processing_state__in=[ProcessingState.PENDING, ProcessingState.FAILED])


def claim_and_dispatch(
    notification_id: int,
    attempt: int | None = None,
    using: str | None = None,
    *,
    eligible: Q = WAITING,
    trigger: Trigger = Trigger.TASK,
    notification: Notification | None = None,
    skip_locked: bool = False,
    claim_within: float | None = None,
) -> DispatchOutcome | None:
    """Claim one notification and run its receivers; None when it could not be claimed.

    ``attempt``: dispatch only if ``attempts`` still equals it (a task queued for an
    attempt that already ran finds nothing). ``eligible``: the states this caller may
    claim. None means the row is gone or no longer eligible. A row locked by another
    claimer is waited for (then found no longer eligible), or, with ``skip_locked``,
    passed over at once (the sweeper and replays: they must not queue behind a slow
    dispatch; a row they pass over is there for the next run). ``notification``: the
    row already in memory (the first dispatch has it), locked without reading it again.
    ``claim_within``: seconds the claim may wait for the row (a table lock, a stalled
    server) before the connection is severed and the notification left for the sweeper:
    a dispatch after the answer must not hold the worker Bandwidth's next delivery
    needs. Safe to call from any number of processes at once.
    """
    db = using or router.db_for_write(Notification)
    pinned = attempt
    started = timezone.now()
    if notification is not None and not _has_receivers(notification):
        # Nothing to run, so nothing to hold a claim over: the conditional UPDATE that
        # records the attempt is the claim (one statement instead of a transaction).
        condition = Q(pk=notification_id) & eligible
        if attempt is not None:
            condition &= Q(attempts=attempt)
        state, error = str(ProcessingState.PROCESSED), ""
        with _ours_within(db, claim_within):
            recorded = _record(db, condition, state, error, started)
        if not recorded:
            return None
        outcome: DispatchOutcome | None = DispatchOutcome(notification.pk, 0, ())
    else:
        row_locks = connections[db].features.has_select_for_update
        if not row_locks and attempt is None:
            # Without row locks (SQLite) the claim is pinned to the attempts read now:
            # whoever claims second, once the first has recorded its attempt, finds it
            # changed and gives up, as a locked row would make it.
            current = (
                Notification.objects.using(db)
                .filter(pk=notification_id)
                .values_list("attempts", flat=True)
                .first()
            )
            if current is None:
                return None
            pinned = current
        try:
            with transaction.atomic(using=db):
                with _ours_within(db, claim_within):
                    claimed = _claim(
                        db, notification_id, eligible, pinned, notification, skip_locked
                    )
                if claimed is None:
                    return None
                notification, opened = claimed
                outcome, state, error = _dispatch_claimed(
                    db, notification, trigger, started, claim_within, opened
                )
        except OperationalError as err:
            # SQLite's write lock still held by another dispatch past the busy timeout:
            # for a caller that would skip a locked row, the same answer.
            if skip_locked and not row_locks and "locked" in str(err):
                return None
            raise
        if outcome is None:
            return None
    assert outcome is not None
    notification.processing_state = state
    notification.attempts += 1
    notification.last_attempt_at = started
    notification.last_error = error
    logger.info(
        "Notification %s dispatched (%s, attempt %s): %s",
        notification.pk,
        trigger,
        notification.attempts,
        state,
        extra={
            "notification_id": notification.pk,
            "trigger": str(trigger),
            "attempt": notification.attempts,
            "processing_state": str(state),
        },
    )
    return outcome


def _ours_within(db: str, seconds: float | None) -> contextlib.AbstractContextManager[Watch | None]:
    """Bound our own statements (the claim, the record) on PostgreSQL: past ``seconds``
    the connection is severed, the transaction is lost whole, the row is as it was."""
    connection = connections[db]
    if seconds is None or connection.vendor != "postgresql":
        return contextlib.nullcontext()  # SQLite: the busy timeout bounds the wait
    connection.ensure_connection()
    return severed_at(time.monotonic() + seconds, connection.connection)


def _claim(
    db: str,
    notification_id: int,
    eligible: Q,
    pinned: int | None,
    notification: Notification | None,
    skip_locked: bool,
) -> tuple[Notification, str | None] | None:
    """Inside the dispatch's transaction: lock the row if still eligible (and its
    ``attempts`` still ``pinned``, when given), else None. With the row, the savepoint
    the claim opened for the first receiver, if it did (see :func:`_lock_in_memory`).

    PostgreSQL (and other backends with row locks): ``SELECT … FOR UPDATE``. SQLite:
    a write that changes nothing, which takes the database's write lock first (waiting
    its busy timeout), so the outcome's write can never fail on a lock upgrade.
    """
    connection = connections[db]
    if notification is not None and (pinned is not None or connection.vendor == "postgresql"):
        locked = _lock_in_memory(db, notification_id, eligible, pinned, skip_locked)
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
    db: str, notification_id: int, eligible: Q, pinned: int | None, skip_locked: bool
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
        if several_statements_per_message(connection):
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


def _dispatch_claimed(
    db: str,
    notification: Notification,
    trigger: Trigger,
    started: Any,
    record_within: float | None,
    opened: str | None,
) -> tuple[DispatchOutcome | None, str, str]:
    """Run the receivers of a claimed notification and record the attempt, in the
    claim's transaction; ``(None, …)`` when another claimer recorded one first. The
    recording statements are ours, bounded like the claim; the receivers' are not."""
    replay = trigger in (Trigger.REPLAY, Trigger.RETRY) or notification.attempts > 0
    outcome = _run_receivers(notification, db, replay=replay, opened=opened, within=record_within)
    state = str(ProcessingState.FAILED if outcome.failures else ProcessingState.PROCESSED)
    error = "\n\n".join(failure.describe() for failure in outcome.failures)
    with _ours_within(db, record_within):
        recorded = _record_with_history(db, notification, trigger, started, state, error, outcome)
    if not recorded:
        # Another claimer recorded an attempt first (only possible without row locks):
        # undo this one whole, receivers' writes included.
        transaction.set_rollback(True, using=db)
        return None, state, error
    return outcome, state, error


def _record_with_history(
    db: str,
    notification: Notification,
    trigger: Trigger,
    started: Any,
    state: str,
    error: str,
    outcome: DispatchOutcome,
) -> bool:
    """Record the attempt on the row (if no other claimer did meanwhile) and keep it in
    the history; False when another claimer recorded one first.

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
        notification.pk,
        notification.attempts,
    ]
    history = {
        "notification": notification.pk,
        "number": notification.attempts + 1,
        "trigger": str(trigger),
        "started_at": started,
        "finished_at": timezone.now(),
        "outcome": state,
        "receivers_called": outcome.receivers_called,
        "failures": [
            {"receiver": f.receiver, "error": f.error, "traceback": f.traceback}
            for f in outcome.failures
        ],
    }
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

    #: ``UPDATE`` the row (state, attempts + 1, when, errors) where its id and attempts
    #: are still the claimed ones.
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
        for name in ("id", "attempts", "processing_state", "last_attempt_at", "last_error")
    }
    # Quoted names from the models' metadata; every value is a parameter.
    record = (
        f"UPDATE {quote(Notification._meta.db_table)} SET "  # noqa: S608
        f"{column['processing_state']} = %s, {column['attempts']} = {column['attempts']} + 1, "
        f"{column['last_attempt_at']} = %s, {column['last_error']} = %s "
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


def _record(db: str, condition: Q, state: str, error: str, started: Any) -> int:
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


def dispatch(notification: Notification, *, replay: bool = False) -> DispatchOutcome:
    """Send every signal ``notification`` fires now, whatever its state, and record it.

    The same claim as every other dispatch: raises :class:`DispatchBusy` when another
    process is dispatching it at this moment. Never raises for a receiver's exception.
    ``replay`` is passed on to the receivers (and also true once it ran before).
    """
    db = notification._state.db or router.db_for_write(Notification)
    outcome = claim_and_dispatch(
        notification.pk,
        using=db,
        eligible=Q(),
        trigger=Trigger.REPLAY if replay else Trigger.FIRST,
        notification=notification,
        skip_locked=True,
    )
    if outcome is None:
        raise DispatchBusy(f"notification {notification.pk} is being dispatched elsewhere")
    return outcome


def _signals(notification: Notification) -> list[Signal]:
    return signals_for(
        notification.order_type,
        notification.status,
        notification.event_type,
        bool(notification.note),
    )


def _has_receivers(notification: Notification) -> bool:
    return any(signal.has_listeners(Notification) for signal in _signals(notification))


def _run_receivers(
    notification: Notification,
    db: str,
    *,
    replay: bool,
    opened: str | None = None,
    within: float | None = None,
) -> DispatchOutcome:
    """Each receiver in its own savepoint (``opened``: the first one's, already open):
    one that raises, or leaves the transaction unusable, has its writes rolled back
    and its failure recorded; the others run. A savepoint is never released: the
    transaction's end releases them all, one round trip fewer per receiver. Our own
    savepoint statements are bounded by ``within`` seconds, as the claim is; the
    receivers' statements are theirs."""
    connection = connections[db]
    called = 0
    failures: list[ReceiverFailure] = []
    for signal in _signals(notification):
        for receiver in _receivers(signal):
            called += 1
            if opened is None:
                with _ours_within(db, within):
                    savepoint = _savepoint_create(using=db)
            else:
                savepoint, opened = opened, None
            # Known to Django as atomic() makes it: on_commit() callbacks the receiver
            # registers are dropped if its savepoint is rolled back.
            connection.savepoint_ids.append(savepoint)
            try:
                receiver(
                    signal=signal, sender=Notification, notification=notification, replay=replay
                )
                if _left_unusable(connection):
                    raise TransactionManagementError(
                        "the receiver left the database transaction unusable (a database "
                        "error it caught outside transaction.atomic())"
                    )
            except Exception as exc:
                connection.needs_rollback = False  # as transaction.atomic() does
                with _ours_within(db, within):
                    transaction.savepoint_rollback(savepoint, using=db)
                failure = ReceiverFailure(
                    receiver=_name(receiver),
                    error=f"{type(exc).__name__}: {exc}",
                    traceback=traceback.format_exc(),
                )
                failures.append(failure)
                logger.error(
                    "Receiver %s failed on notification %s: %s",
                    failure.receiver,
                    notification.pk,
                    failure.error,
                    exc_info=exc,
                )
            finally:
                connection.savepoint_ids.pop()
    return DispatchOutcome(notification.pk, called, tuple(failures))


#: ``transaction.savepoint()``, named ``savepoint_create()`` from Django 6.1 on (the old
#: name warns).
_savepoint_create: Callable[..., Any] = getattr(
    transaction, "savepoint_create", transaction.savepoint
)


def _left_unusable(connection: Any) -> bool:
    """True when the transaction cannot go on: Django marked it (an inner atomic block
    without a savepoint failed), or the server aborted it (a database error caught and
    ignored). Read from the driver's state: no round trip."""
    if connection.needs_rollback:
        return True
    raw = connection.connection
    info = getattr(raw, "info", None)  # psycopg 3
    if info is not None:
        status = getattr(info, "transaction_status", None)
    else:  # psycopg 2
        status = getattr(raw, "get_transaction_status", lambda: None)()
    return status is not None and int(status) == _INERROR


#: libpq's PQTRANS_INERROR: the server aborted the transaction.
_INERROR = 3


def _receivers(signal: Signal) -> list[Callable[..., Any]]:
    if not signal.has_listeners(Notification):
        return []
    # Signal.send_robust() would call them all, but cannot give each its own
    # savepoint; _live_receivers() is what it uses (Django 5.0+: sync, async).
    sync_receivers, async_receivers = signal._live_receivers(Notification)
    return [*sync_receivers, *(async_to_sync(receiver) for receiver in async_receivers)]


def _name(receiver: Callable[..., Any]) -> str:
    wrapped = getattr(receiver, "__wrapped__", receiver)
    module = getattr(wrapped, "__module__", "?")
    return f"{module}.{getattr(wrapped, '__qualname__', repr(wrapped))}"
