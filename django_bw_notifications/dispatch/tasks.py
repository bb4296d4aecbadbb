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
    from django.tasks.backends.base import BaseTaskBackend
except ImportError:  # Django 5.2 with the backport
    from django_tasks import task, task_backends  # type: ignore[no-redef,assignment,unused-ignore]
    from django_tasks.backends.base import (  # type: ignore[no-redef,assignment,unused-ignore]
        BaseTaskBackend,
    )

__all__ = ["dispatch_notification", "enqueue", "unusable_backend"]

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


def unusable_backend() -> str:
    """Why the configured backend cannot run :func:`dispatch_notification` ("" when it
    can), found without enqueueing anything: system check E011 asks.

    A backend built on the other Tasks framework (a ``django-tasks`` backport backend,
    such as ``django-tasks-rq`` 0.12, under Django 6's ``django.tasks``) loads, accepts
    every enqueue and fails every job ("'Task' object is not callable"); a queue the
    backend does not list is refused at every enqueue. Both are asked of the backend's
    own API: its class, and its ``validate_task`` for our task on our queue.
    """
    alias = app_settings.TASK_BACKEND
    try:
        backend = task_backends[alias]
    except Exception as err:  # the backend's own import or configuration error
        return f"TASKS[{alias!r}] cannot be loaded: {type(err).__name__}: {err}"
    if not isinstance(backend, BaseTaskBackend):
        cls = type(backend)
        return (
            f"TASKS[{alias!r}]'s backend {cls.__module__}.{cls.__qualname__} is not a "
            f"{BaseTaskBackend.__module__.split('.')[0]} backend (built on the other Tasks "
            "framework?): it would accept every enqueue and fail every job"
        )
    try:
        backend.validate_task(
            dispatch_notification.using(queue_name=app_settings.TASK_QUEUE, backend=alias)
        )
    except Exception as err:  # InvalidTask(Error): the backend says why
        return f"TASKS[{alias!r}] cannot run the dispatch task: {err}"
    return ""
