"""``manage.py bw_notifications_drain_spool``: store and dispatch spooled deliveries.

Run it once the database is back (safe from cron: it does nothing when the spool is
empty). Each delivery is stored exactly once: a file is claimed by renaming it, deleted
only after its notification is committed, and a delivery drained twice (a drain killed
between the two) is recognised as a duplicate by its fingerprint and not dispatched
again. Exits non-zero while deliveries remain that could not be stored.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ... import spool
from ...conf import app_settings
from ...ingest import ingest, record_rejection
from ...parsing import NotificationParseError, parse_notification


class Command(BaseCommand):
    help = "Store and dispatch the deliveries spooled while the database was unavailable."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--spool-dir", type=Path, help="default: the BW_NOTIFICATIONS_SPOOL_DIR setting"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory: Path | None = options["spool_dir"] or app_settings.SPOOL_DIR
        if directory is None:
            raise CommandError(
                "no spool directory: set BW_NOTIFICATIONS_SPOOL_DIR or pass --spool-dir"
            )
        stored = duplicates = rejected = 0
        for delivery in spool.claim(directory):
            try:
                parsed = parse_notification(delivery.body)
            except NotificationParseError as err:
                # Only parsed bodies are spooled; a file edited by hand may not be.
                record_rejection(
                    status_code=400,
                    reason=f"spooled delivery {delivery.path.name}: {err}",
                    body=delivery.body,
                    body_size=len(delivery.body),
                    content_type="",
                    remote_addr=delivery.remote_addr,
                    headers=delivery.headers,
                )
                delivery.remove()
                rejected += 1
                self.stderr.write(
                    f"{delivery.path.name}: refused ({err}); kept as a rejected delivery"
                )
                continue
            try:
                result = ingest(
                    parsed,
                    remote_addr=delivery.remote_addr,
                    headers=delivery.headers,
                    received_at=delivery.received_at,
                    account=delivery.account,
                )
            except DatabaseError as err:
                delivery.release()
                raise CommandError(
                    f"the database is still unavailable ({err}); "
                    f"{stored + duplicates} delivery(ies) stored so far, the rest stay spooled"
                ) from None
            delivery.remove()
            notification = result.notification
            if result.created:
                stored += 1
                self.stdout.write(
                    f"{delivery.path.name}: stored as notification {notification.pk} "
                    f"({notification.processing_state})"
                )
            else:
                duplicates += 1
                self.stdout.write(
                    f"{delivery.path.name}: already stored as notification {notification.pk}"
                )
        self.stdout.write(
            f"Drained {stored + duplicates + rejected}: {stored} stored, "
            f"{duplicates} already stored, {rejected} refused."
        )
