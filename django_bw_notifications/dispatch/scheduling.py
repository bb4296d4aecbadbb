"""When and where a stored notification's receivers run; what the sweeper and replay do.

The one reader of ``BW_NOTIFICATIONS_DISPATCH``:

- ``"inline"`` (default): the request that stored the notification dispatches it once
  its answer has been sent (see ``views``), so receivers never delay or change
  Bandwidth's ``200``. Elsewhere (the spool drain, reconcile, tests) right after commit.
- ``"task"``: a task on Django's Tasks framework is enqueued after the answer.
- a dotted path: your function enqueues the notification on your own queue.

Whatever the mode, a dispatch that never happened or never finished (a process killed,
a refused enqueue, a response a middleware replaced) leaves the notification
``pending``, where :func:`sweep` (``bw_notifications_dispatch_pending``) finds it. Every
dispatch, replay included, is claimed through
:func:`~django_bw_notifications.dispatch.receivers.claim_and_dispatch`, so none runs twice
at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from ..conf import app_settings
from ..models import Notification, ProcessingState, stuck_since
from .receivers import DispatchOutcome, Trigger, claim_and_dispatch

__all__ = ["INLINE", "SweepReport", "after_store", "enqueuer", "mode", "replay", "stuck", "sweep"]

logger = logging.getLogger(__name__)

#: The default dispatch mode.
INLINE = "inline"

#: Seconds a dispatch after the answer waits to claim its row (normally milliseconds; a
#: table lock or a stalled server takes longer) before leaving it to the sweeper.
CLAIM_PATIENCE = 1.0

#: Runs a job now, or hands it to whoever runs it later (the response, once sent).
Later = Callable[[Callable[[], None]], None]


def mode() -> str:
    """``"inline"``, ``"task"`` or the dotted path of a host's enqueue function."""
    return app_settings.DISPATCH


def enqueuer() -> Callable[[Notification], Any]:
    """The function that queues a notification's dispatch (task modes only).

    ``"task"``: :func:`django_bw_notifications.dispatch.tasks.enqueue` (Django's Tasks framework).
    A dotted path: your own, e.g. one that sends a Celery task which calls
    :func:`~django_bw_notifications.dispatch.receivers.claim_and_dispatch` with the notification's
    id and ``attempts``.
    """
    chosen = mode()
    if chosen == "task":
        from .tasks import enqueue  # imports the Tasks framework: task mode only

        return enqueue
    function: Callable[[Notification], Any] = import_string(chosen)
    return function


def after_store(notification: Notification, created: bool, *, later: Later | None = None) -> None:
    """Schedule what a just-stored delivery needs, once its transaction commits.

    A new notification is dispatched; a copy of one whose last dispatch failed retries
    it (once, even when copies arrive together); any other copy needs nothing. ``later``
    receives the job to run after the answer (the endpoint's); without it the job runs
    as soon as the transaction commits. A job that fails is logged: the notification
    stays as it was and the sweeper or a replay takes it from there.
    """
    if created:
        trigger, eligible = Trigger.FIRST, Q(processing_state=ProcessingState.PENDING)
    elif notification.processing_state == ProcessingState.FAILED:
        trigger, eligible = Trigger.RETRY, Q(processing_state=ProcessingState.FAILED)
    else:
        return
    db = notification._state.db or DEFAULT_DB_ALIAS
    attempt = notification.attempts
    in_memory = notification if created else None
    inline = mode() == INLINE

    if inline:

        def job() -> None:
            claim_and_dispatch(
                notification.pk,
                attempt,
                db,
                eligible=eligible,
                trigger=trigger,
                notification=in_memory,
                # The worker that answered runs it: a stalled claim must not keep it
                # from Bandwidth's next delivery. The sweeper takes what it gives up.
                claim_within=min(CLAIM_PATIENCE, app_settings.TIME_BUDGET),
            )

    else:
        enqueue = enqueuer()

        def job() -> None:
            enqueue(notification)

    def run_logged() -> None:
        try:
            job()
        except Exception:
            logger.exception(
                "Could not %s notification %s; it stays %s and "
                "bw_notifications_dispatch_pending (or a replay) will take it",
                "dispatch" if inline else "enqueue",
                notification.pk,
                notification.processing_state,
            )

    def when_committed() -> None:
        if later is None:
            run_logged()
        else:
            later(run_logged)

    transaction.on_commit(when_committed, using=db, robust=True)


def replay(
    notification_id: int,
    *,
    only_failed: bool = False,
    attempts: int | None = None,
    not_since: datetime | None = None,
    using: str | None = None,
) -> DispatchOutcome | None:
    """Run a notification's receivers again (``replay=True``) and record the attempt.

    The one replay rule for the admin, the REST API and the command. None when it
    could not be claimed: it is being dispatched right now (two operators, a double
    submit), or, with ``only_failed``, it is no longer failed, or, with ``attempts``,
    another dispatch was recorded since the caller read that many (so a request sent
    twice replays once, however far apart), or, with ``not_since``, an attempt began at
    or after that moment (when the operator looked: the page was shown, the action or
    the command started), so a second submit of the same decision replays nothing the
    first already ran, a failure included.
    """
    eligible = Q(processing_state=ProcessingState.FAILED) if only_failed else Q()
    if not_since is not None:
        eligible &= Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=not_since)
    return claim_and_dispatch(
        notification_id,
        attempts,
        using or router.db_for_write(Notification),
        eligible=eligible,
        trigger=Trigger.REPLAY,
        skip_locked=True,
    )


def stuck(older_than: float, using: str | None = None) -> QuerySet[Notification]:
    """What the sweeper takes: ``Notification.objects.stuck(older_than)``."""
    return Notification.objects.using(using or router.db_for_read(Notification)).stuck(older_than)


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one :func:`sweep` did."""

    dispatched: int
    failed: int
    #: Found stuck but claimed by someone else meanwhile (in flight, or just finished).
    skipped: int


def sweep(older_than: float, using: str | None = None) -> SweepReport:
    """Dispatch, in this process, every notification :func:`stuck` finds.

    In every mode: a queue that lost or refused a task, or a worker that died, is
    exactly what leaves a notification here. Each is claimed again under the same
    condition, so one dispatched elsewhere meanwhile (or still in flight, holding its
    claim) is skipped, never run twice.
    """
    db = using or router.db_for_write(Notification)
    dispatched = failed = skipped = 0
    # Claimed again under the same condition: one finished elsewhere since is skipped.
    still_stuck = stuck_since(timezone.now() - timedelta(seconds=older_than))
    # The ids first: each dispatch is a transaction of its own.
    for pk in list(stuck(older_than, db).values_list("pk", flat=True)):
        outcome = claim_and_dispatch(
            pk, using=db, eligible=still_stuck, trigger=Trigger.SWEEP, skip_locked=True
        )
        if outcome is None:
            skipped += 1
            continue
        dispatched += 1
        failed += not outcome.succeeded
    return SweepReport(dispatched, failed, skipped)
