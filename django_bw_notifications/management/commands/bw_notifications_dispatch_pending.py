"""``manage.py bw_notifications_dispatch_pending``: dispatch what never got dispatched.

A notification stays pending when the process died between its commit and its dispatch,
when the task queue refused the task, or when a worker was killed mid-dispatch (its
transaction rolled back). Safe from cron: each notification is claimed by a locked,
conditional transaction, so one also dispatched elsewhere meanwhile is skipped. In task
mode (``BW_NOTIFICATIONS_DISPATCH`` other than ``"inline"``) it enqueues them instead.
"""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...conf import app_settings
from ...dispatch import claim_and_dispatch, enqueuer
from ...models import Notification, ProcessingState


class Command(BaseCommand):
    help = "Dispatch (or enqueue, in task mode) notifications still pending after a while."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=300,
            help="seconds since arrival before a pending notification counts as stuck "
            "(default 300: longer than a normal queue wait)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["older_than"] < 0:
            raise CommandError("--older-than must be 0 or more seconds")
        cutoff = timezone.now() - timedelta(seconds=options["older_than"])
        stuck = Notification.objects.filter(
            processing_state=ProcessingState.PENDING, received_at__lt=cutoff
        ).order_by("received_at", "id")
        handled = 0
        if app_settings.DISPATCH != "inline":
            enqueue = enqueuer()
            for notification in stuck.iterator():
                enqueue(notification)
                handled += 1
            self.stdout.write(f"Enqueued {handled} pending notifications.")
            return
        failed = 0
        for notification in stuck.only("pk", "attempts").iterator():
            outcome = claim_and_dispatch(notification.pk, notification.attempts)
            if outcome is not None:
                handled += 1
                failed += not outcome.succeeded
        self.stdout.write(f"Dispatched {handled} pending notifications ({failed} failed).")
        if failed:
            raise CommandError(f"{failed} notifications failed; see their last_error")
