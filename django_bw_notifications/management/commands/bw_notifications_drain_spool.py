"""``manage.py bw_notifications_drain_spool``: store and dispatch spooled deliveries.

Run it once the database is back (safe from cron: it does nothing when the spool is
empty). Each delivery goes through the same pipeline as the endpoint's and is stored
exactly once: a file is claimed by renaming it, deleted only after its notification is
committed, and a delivery drained twice (a drain killed between the two) is recognised
as a duplicate by its fingerprint and not dispatched again.

A file is never deleted unless its delivery is in the database (stored, or kept as a
rejected delivery). One that can never be stored (unreadable, damaged, refused by the
database for good) is set aside with its reason and the drain goes on; a database that
is still down stops the drain and leaves the rest spooled. Exits non-zero whenever a
file was set aside, refused, or left spooled.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...conf import app_settings
from ...intake import spool
from ...intake.pipeline import Result, accept, is_transient


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
        counts = dict.fromkeys(("stored", "duplicate", "refused", "set aside"), 0)
        for claimed in spool.claim(directory):
            if claimed.delivery is None:
                kept = claimed.set_aside(f"unreadable: {claimed.problem}")
                self.stderr.write(f"{claimed.name}: unreadable ({claimed.problem}); kept as {kept}")
                counts["set aside"] += 1
                continue
            outcome = accept(claimed.delivery, spool_on_failure=False)
            if outcome.result is Result.UNAVAILABLE:
                assert outcome.error is not None
                if is_transient(outcome.error):
                    claimed.release()
                    raise CommandError(
                        f"the database is still unavailable ({outcome.error}); "
                        f"{self._summary(counts)} so far; the rest stay spooled"
                    )
                reason = f"refused by the database: {type(outcome.error).__name__}: {outcome.error}"
                kept = claimed.set_aside(reason, refused=True)
                self.stderr.write(f"{claimed.name}: {reason}; kept as {kept}")
                counts["set aside"] += 1
                continue
            if outcome.result is Result.REFUSED:
                if outcome.rejection is None:
                    kept = claimed.set_aside(f"refused ({outcome.reason}) and not recorded")
                    self.stderr.write(f"{claimed.name}: refused ({outcome.reason}); kept as {kept}")
                    counts["set aside"] += 1
                    continue
                claimed.remove()
                counts["refused"] += 1
                self.stderr.write(
                    f"{claimed.name}: refused ({outcome.reason}); kept as rejected delivery "
                    f"{outcome.rejection.pk}"
                )
                continue
            claimed.remove()
            notification = outcome.notification
            assert notification is not None
            if outcome.result is Result.STORED:
                counts["stored"] += 1
                self.stdout.write(
                    f"{claimed.name}: stored as notification {notification.pk} "
                    f"({notification.processing_state})"
                )
            else:
                counts["duplicate"] += 1
                self.stdout.write(
                    f"{claimed.name}: already stored as notification {notification.pk}"
                )
        self.stdout.write(f"Drained {sum(counts.values())}: {self._summary(counts)}.")
        needing_a_person = counts["refused"] + counts["set aside"]
        if needing_a_person:
            raise CommandError(
                f"{needing_a_person} spooled delivery(ies) could not be stored; see the "
                f"messages above, the rejected deliveries in the admin, and {directory}"
            )

    @staticmethod
    def _summary(counts: dict[str, int]) -> str:
        return (
            f"{counts['stored']} stored, {counts['duplicate']} already stored, "
            f"{counts['refused']} refused, {counts['set aside']} set aside"
        )
