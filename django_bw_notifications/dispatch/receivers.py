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
:mod:`django_bw_notifications.dispatch.scheduling`, not here. The claim's and the
record's SQL live in :mod:`.claims`; this module, a little over the usual size, keeps
the one transaction's steps (claim, book, receivers, record) readable in order.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from asgiref.sync import async_to_sync
from django.db import OperationalError, connections, router, transaction
from django.db.models import Q
from django.db.transaction import TransactionManagementError
from django.dispatch import Signal
from django.utils import timezone

from ..conf import app_settings
from ..models import Notification, ProcessingState
from ..signals import signals_for
from ..state import book
from .claims import WAITING, claim, ours_within, record, record_with_history

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
    keeps_state = app_settings.KEEP_STATE
    if (
        notification is not None
        and not _has_receivers(notification)
        and not (keeps_state and book.concerns(notification))
    ):
        # Nothing to run, so nothing to hold a claim over: the conditional UPDATE that
        # records the attempt is the claim (one statement instead of a transaction).
        condition = Q(pk=notification_id) & eligible
        if attempt is not None:
            condition &= Q(attempts=attempt)
        state, error = str(ProcessingState.PROCESSED), ""
        with ours_within(db, claim_within):
            recorded = record(db, condition, state, error, started)
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
                with ours_within(db, claim_within):
                    # The order book writes before any receiver, so no savepoint is
                    # opened with the claim when it may have something to learn.
                    first_savepoint = not (
                        keeps_state and notification is not None and book.concerns(notification)
                    )
                    claimed = claim(
                        db,
                        notification_id,
                        eligible,
                        pinned,
                        notification,
                        skip_locked,
                        first_savepoint,
                    )
                if claimed is None:
                    return None
                notification, opened = claimed
                outcome, state, error = _dispatch_claimed(
                    db, notification, trigger, started, claim_within, opened, keeps_state
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


def _dispatch_claimed(
    db: str,
    notification: Notification,
    trigger: Trigger,
    started: Any,
    record_within: float | None,
    opened: str | None,
    keeps_state: bool = True,
) -> tuple[DispatchOutcome | None, str, str]:
    """Bring the order book up to date, run the receivers of a claimed notification and
    record the attempt, in the claim's transaction; ``(None, …)`` when another claimer
    recorded one first. The book's and the recording statements are ours, bounded like
    the claim; the receivers' are not. A copy of news already told (see
    :mod:`django_bw_notifications.state.book`) runs no receiver."""
    replay = trigger in (Trigger.REPLAY, Trigger.RETRY) or notification.attempts > 0
    learned = book.Learned()
    if keeps_state and book.concerns(notification):
        # The book's writes grow with the numbers (bulk, but a 5,000-number order takes
        # longer than a claim should wait): they have the whole time budget, not the
        # claim's patience. A stalled server still severs them, and the sweeper retries.
        book_within = (
            None if record_within is None else max(record_within, app_settings.TIME_BUDGET)
        )
        with ours_within(db, book_within):
            learned = book.learn(
                notification, db, first=notification.attempts == 0, linked_by_record=True
            )
    if learned.copy_of is not None:
        outcome = DispatchOutcome(notification.pk, 0, ())
    else:
        outcome = _run_receivers(
            notification,
            db,
            replay=replay,
            opened=opened,
            within=record_within,
            announcements=learned.announcements,
        )
    state = str(ProcessingState.FAILED if outcome.failures else ProcessingState.PROCESSED)
    error = "\n\n".join(failure.describe() for failure in outcome.failures)
    with ours_within(db, record_within):
        recorded = record_with_history(
            db,
            notification,
            started,
            state,
            error,
            _history(notification, trigger, started, state, outcome),
        )
    if not recorded:
        # Another claimer recorded an attempt first (only possible without row locks):
        # undo this one whole, receivers' writes included.
        transaction.set_rollback(True, using=db)
        return None, state, error
    return outcome, state, error


def _history(
    notification: Notification, trigger: Trigger, started: Any, state: str, outcome: DispatchOutcome
) -> dict[str, Any]:
    """The values of this attempt's ``DispatchAttempt``, by field name."""
    return {
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
    announcements: Sequence[book.Announcement] = (),
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
    sends = [
        (signal, Notification, {"notification": notification}) for signal in _signals(notification)
    ]
    sends += [(a.signal, a.sender, a.kwargs) for a in announcements]
    for signal, sender, kwargs in sends:
        for receiver in _receivers(signal, sender):
            called += 1
            if opened is None:
                with ours_within(db, within):
                    savepoint = _savepoint_create(using=db)
            else:
                savepoint, opened = opened, None
            # Known to Django as atomic() makes it: on_commit() callbacks the receiver
            # registers are dropped if its savepoint is rolled back.
            connection.savepoint_ids.append(savepoint)
            try:
                receiver(signal=signal, sender=sender, replay=replay, **kwargs)
                if _left_unusable(connection):
                    raise TransactionManagementError(
                        "the receiver left the database transaction unusable (a database "
                        "error it caught outside transaction.atomic())"
                    )
            except Exception as exc:
                connection.needs_rollback = False  # as transaction.atomic() does
                with ours_within(db, within):
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


def _receivers(signal: Signal, sender: type[Any] = Notification) -> list[Callable[..., Any]]:
    if not signal.has_listeners(sender):
        return []
    # Signal.send_robust() would call them all, but cannot give each its own
    # savepoint; _live_receivers() is what it uses (Django 5.0+: sync, async).
    sync_receivers, async_receivers = signal._live_receivers(sender)
    return [*sync_receivers, *(async_to_sync(receiver) for receiver in async_receivers)]


def _name(receiver: Callable[..., Any]) -> str:
    wrapped = getattr(receiver, "__wrapped__", receiver)
    module = getattr(wrapped, "__module__", "?")
    return f"{module}.{getattr(wrapped, '__qualname__', repr(wrapped))}"
