"""``manage.py bw_notifications_replay``: fire the signals of stored notifications again.

Select by id, by order id, all failed ones, and/or a received-date range (selectors
combine with AND). Each replay goes through the same service as the admin's and the
API's (``scheduling.replay``): a notification being dispatched elsewhere at that moment
is skipped, never run twice at once. ``--failed`` is safe from cron: a notification
that is no longer failed when its turn comes is skipped. Exits non-zero if any replay
fails.
"""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...dispatch.scheduling import replay
from ...models import Notification, NotificationQuerySet, parse_moment


class Command(BaseCommand):
    help = "Replay the signals of stored notifications (by id, order id, failed, date range)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="notification ids")
        parser.add_argument("--order-id", action="append", default=[], help="repeatable")
        parser.add_argument("--failed", action="store_true", help="only failed notifications")
        parser.add_argument("--since", help="received on or after (YYYY-MM-DD or ISO datetime)")
        parser.add_argument("--until", help="received before (YYYY-MM-DD or ISO datetime)")
        parser.add_argument("--dry-run", action="store_true", help="list, replay nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        # A notification whose attempt began after this run started was replayed by
        # another run (or dispatched meanwhile): not run again.
        started = timezone.now()
        notifications = self._select(options)
        replayed = failed = skipped = 0
        labelled = notifications.only("pk", "order_type", "order_id", "status", "event_type")
        for notification in labelled.iterator():
            label = str(notification)  # "portins 1234 COMPLETE #5": its id once
            if options["dry_run"]:
                self.stdout.write(f"would replay {label}")
                replayed += 1
                continue
            outcome = replay(notification.pk, only_failed=options["failed"], not_since=started)
            if outcome is None:
                why = "no longer failed, or being" if options["failed"] else "being"
                self.stdout.write(
                    f"skipped {label}: {why} dispatched elsewhere, or dispatched since this "
                    "run began"
                )
                skipped += 1
                continue
            replayed += 1
            if outcome.succeeded:
                self.stdout.write(f"replayed {label}: {outcome.receivers_called} receiver(s) ok")
            else:
                failed += 1
                errors = "; ".join(f"{f.receiver}: {f.error}" for f in outcome.failures)
                self.stderr.write(f"FAILED {label}: {errors}")
        self._missing_ids(options["ids"])
        if options["dry_run"]:
            self.stdout.write(f"Would replay {replayed}; replayed nothing (--dry-run).")
            return
        summary = f"Replayed {replayed}: {replayed - failed} succeeded, {failed} failed"
        self.stdout.write(f"{summary}, {skipped} skipped." if skipped else f"{summary}.")
        if failed:
            raise CommandError(f"{failed} replay(s) failed; see Notification.last_error")

    def _missing_ids(self, ids: list[int]) -> None:
        """Exit non-zero naming the ids asked for that no notification has (a typo, or
        pruned): after the others ran, so one wrong id does not hold the rest back."""
        if not ids:
            return
        found = set(Notification.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = sorted(set(ids) - found)
        if missing:
            raise CommandError(
                f"no notification with id {', '.join(map(str, missing))} (pruned, or a typo?)"
            )

    def _select(self, options: dict[str, Any]) -> NotificationQuerySet:
        if not (
            options["ids"]
            or options["order_id"]
            or options["failed"]
            or options["since"]
            or options["until"]
        ):
            raise CommandError("say what to replay: ids, --order-id, --failed, --since or --until")
        notifications = Notification.objects.order_by("received_at", "id")
        if options["ids"]:
            notifications = notifications.filter(pk__in=options["ids"])
        if options["order_id"]:
            notifications = notifications.filter(order_id__in=options["order_id"])
        if options["failed"]:
            notifications = notifications.failed()
        notifications = notifications.received_between(
            _moment(options["since"], "--since") if options["since"] else None,
            _moment(options["until"], "--until") if options["until"] else None,
        )
        return notifications


def _moment(text: str, option: str) -> datetime:
    moment = parse_moment(text)
    if moment is None:
        raise CommandError(f"{option} {text!r} is not a date (YYYY-MM-DD) or an ISO datetime")
    return moment
