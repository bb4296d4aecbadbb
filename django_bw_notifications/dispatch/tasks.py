"""Dispatch on a task queue: Django's Tasks framework, whatever backend the host runs.

With ``BW_NOTIFICATIONS_DISPATCH = "task"`` the endpoint enqueues
:func:`dispatch_notification` after the commit instead of running receivers in the
request. Django 6.0+ brings ``django.tasks``; on Django 5.2 install the ``django-tasks``
backport (extra ``tasks``). This module imports the framework, so it is imported only
in task mode.

Exactly once: the task claims the notification through
:func:`django_bw_notifications.dispatch.receivers.claim_and_dispatch`, only if the row still waits
for this attempt. A second copy of the task, or a retry that lost a race, finds nothing
to do. A worker killed mid-dispatch rolls its transaction back (receivers' database
writes included), the notification is as it was, and ``bw_notifications_dispatch_pending``
dispatches it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.utils import timezone

from ..conf import app_settings
from ..models import Notification
from .receivers import Trigger, claim_and_dispatch

try:  # Django 6.0+
    from django.tasks import task, task_backends
except ImportError:  # Django 5.2 with the backport
    from django_tasks import task, task_backends  # type: ignore[no-redef,assignment,unused-ignore]

__all__ = ["dispatch_notification", "enqueue"]

logger = logging.getLogger(__name__)

#: The longest wait between two retries.
MAX_RETRY_DELAY = timedelta(hours=1)


@task()
def dispatch_notification(notification_id: int, attempt: int = 0) -> str:
    """Dispatch one notification if it still waits for ``attempt``; retry on failure.

    Returns what happened (``"processed"``, ``"failed"`` or ``"skipped"``), which the
    task backend keeps as the result.
    """
    outcome = claim_and_dispatch(notification_id, attempt, trigger=Trigger.TASK)
    if outcome is None:
        return "skipped"
    if outcome.succeeded:
        return "processed"
    notification = Notification.objects.get(pk=notification_id)
    if notification.attempts < app_settings.TASK_MAX_ATTEMPTS:
        enqueue(notification, retry=True)
    else:
        logger.error(
            "Notification %s failed %s times; left failed for replay",
            notification_id,
            notification.attempts,
        )
    return "failed"


def enqueue(notification: Notification, *, retry: bool = False) -> Any:
    """Enqueue the dispatch of ``notification``'s next attempt; returns the task result.

    A retry waits ``TASK_RETRY_DELAY`` seconds, doubled at each attempt (at most an
    hour), on backends that can defer; others run it as soon as they can.
    """
    options: dict[str, Any] = {
        "backend": app_settings.TASK_BACKEND,
        "queue_name": app_settings.TASK_QUEUE,
    }
    if retry and task_backends[app_settings.TASK_BACKEND].supports_defer:
        delay = timedelta(
            seconds=app_settings.TASK_RETRY_DELAY * 2 ** max(notification.attempts - 1, 0)
        )
        options["run_after"] = timezone.now() + min(delay, MAX_RETRY_DELAY)
    return dispatch_notification.using(**options).enqueue(notification.pk, notification.attempts)
