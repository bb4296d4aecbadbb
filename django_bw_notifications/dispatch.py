"""Fire the signals for one stored notification and record what happened on its row.

Runs after the notification is committed (never inside the request's transaction).
Each receiver runs in its own ``transaction.atomic()``: a receiver that raises has its
own writes rolled back, the others still run, and the failure (with traceback) is
written to ``Notification.last_error`` with ``processing_state="failed"``, ready to be
replayed.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.db import router, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from django.utils.module_loading import import_string

from .conf import app_settings
from .models import Notification, ProcessingState
from .signals import signals_for

__all__ = [
    "DispatchOutcome",
    "ReceiverFailure",
    "claim_and_dispatch",
    "dispatch",
    "enqueuer",
    "retry_failed",
]

logger = logging.getLogger(__name__)


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


def dispatch(notification: Notification, *, replay: bool = False) -> DispatchOutcome:
    """Send every signal ``notification`` fires and record the outcome on its row.

    Never raises for a receiver's exception (only for a database failure while
    recording the outcome). ``replay`` is passed on to the receivers.
    """
    db = notification._state.db or "default"
    called = 0
    failures: list[ReceiverFailure] = []
    for signal in signals_for(
        notification.order_type,
        notification.status,
        notification.event_type,
        bool(notification.note),
    ):
        for receiver in _receivers(signal):
            called += 1
            try:
                with transaction.atomic(using=db):
                    receiver(
                        signal=signal, sender=Notification, notification=notification, replay=replay
                    )
            except Exception as exc:
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
    _record(notification, failures, db)
    return DispatchOutcome(notification.pk, called, tuple(failures))


def retry_failed(notification_id: int, using: str = "default") -> DispatchOutcome | None:
    """Dispatch again if, and only if, the last dispatch failed.

    The state change is a conditional UPDATE, so when several duplicates arrive at once
    exactly one of them retries. Returns None when there was nothing to retry.
    """
    claimed = (
        Notification.objects.using(using)
        .filter(pk=notification_id, processing_state=ProcessingState.FAILED)
        .update(processing_state=ProcessingState.PROCESSING)
    )
    if not claimed:
        return None
    return dispatch(Notification.objects.using(using).get(pk=notification_id), replay=True)


def claim_and_dispatch(
    notification_id: int, attempt: int, using: str | None = None
) -> DispatchOutcome | None:
    """Dispatch a notification still waiting for its ``attempt``-th dispatch, else None.

    The row is locked (``SKIP LOCKED``: a concurrent claimer moves on) and the receivers
    run inside that transaction, each in its own savepoint; the outcome is recorded in
    it too. Whoever runs this twice, or after the notification moved on, gets None.
    If the process dies midway, everything rolls back and the notification waits again.
    """
    db = using or router.db_for_write(Notification)
    with transaction.atomic(using=db):
        notification = (
            Notification.objects.using(db)
            .select_for_update(skip_locked=True)
            .filter(
                pk=notification_id,
                attempts=attempt,
                processing_state__in=[ProcessingState.PENDING, ProcessingState.FAILED],
            )
            .first()
        )
        if notification is None:
            return None
        return dispatch(notification, replay=attempt > 0)


def enqueuer() -> Callable[[Notification], Any]:
    """The function that queues a notification's dispatch, per ``BW_NOTIFICATIONS_DISPATCH``.

    ``"task"``: :func:`django_bw_notifications.tasks.enqueue` (Django's Tasks framework).
    A dotted path: your own, e.g. one that sends a Celery task which calls
    :func:`claim_and_dispatch` with the notification's id and ``attempts``.
    """
    mode = app_settings.DISPATCH
    if mode == "task":
        from .tasks import enqueue  # imports the Tasks framework: task mode only

        return enqueue
    function: Callable[[Notification], Any] = import_string(mode)
    return function


def _receivers(signal: Signal) -> list[Callable[..., Any]]:
    if not signal.has_listeners(Notification):
        return []
    # Signal.send_robust() would call them all, but cannot give each its own
    # transaction; _live_receivers() is what it uses (Django 5.0+: sync, async).
    sync_receivers, async_receivers = signal._live_receivers(Notification)
    return [*sync_receivers, *(async_to_sync(receiver) for receiver in async_receivers)]


def _name(receiver: Callable[..., Any]) -> str:
    wrapped = getattr(receiver, "__wrapped__", receiver)
    module = getattr(wrapped, "__module__", "?")
    return f"{module}.{getattr(wrapped, '__qualname__', repr(wrapped))}"


def _record(notification: Notification, failures: list[ReceiverFailure], db: str) -> None:
    state = ProcessingState.FAILED if failures else ProcessingState.PROCESSED
    error = "\n\n".join(failure.describe() for failure in failures)
    now = timezone.now()
    Notification.objects.using(db).filter(pk=notification.pk).update(
        processing_state=state, attempts=F("attempts") + 1, last_attempt_at=now, last_error=error
    )
    notification.processing_state = state
    notification.attempts += 1
    notification.last_attempt_at = now
    notification.last_error = error
