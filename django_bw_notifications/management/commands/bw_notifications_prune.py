"""``manage.py bw_notifications_prune --days N``: delete old notifications in batches.

Deletes notifications (with their telephone numbers) and rejected deliveries received
more than N days ago, a batch at a time, each batch its own short transaction so no long
lock is held. ``--keep-failed`` keeps failed notifications until they are replayed.
Idempotent and safe from cron.
"""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import models
from django.utils import timezone

from ...models import Notification, ProcessingState, RejectedDelivery


class Command(BaseCommand):
    help = "Delete notifications and rejected deliveries older than --days, in batches."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--days", type=int, required=True, help="keep the last N days")
        parser.add_argument(
            "--keep-failed",
            action="store_true",
            help="keep failed notifications whatever their age",
        )
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        cutoff = timezone.now() - timedelta(days=options["days"])
        notifications = Notification.objects.filter(received_at__lt=cutoff)
        if options["keep_failed"]:
            notifications = notifications.exclude(processing_state=ProcessingState.FAILED)
        rejected = RejectedDelivery.objects.filter(received_at__lt=cutoff)
        before = f"received before {cutoff:%Y-%m-%d %H:%M}"
        for queryset, what in ((notifications, "notifications"), (rejected, "rejected deliveries")):
            if options["dry_run"]:
                self.stdout.write(f"Would delete {queryset.count()} {what} {before}.")
            else:
                deleted = _delete_in_batches(queryset, options["batch_size"])
                self.stdout.write(f"Deleted {deleted} {what} {before}.")


def _delete_in_batches(queryset: models.QuerySet[Any], batch_size: int) -> int:
    model = queryset.model
    deleted = 0
    while batch := list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size]):
        deleted += model.objects.filter(pk__in=batch).delete()[1].get(model._meta.label, 0)
    return deleted
