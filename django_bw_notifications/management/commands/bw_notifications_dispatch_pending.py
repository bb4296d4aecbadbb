"""``manage.py bw_notifications_dispatch_pending``: the sweeper. Run it from cron.

Dispatches every notification whose dispatch has not finished ``--older-than`` seconds
after it arrived (or after its last attempt began): a process killed between the commit
and the dispatch or in the middle of it, a queue that lost or refused a task, a response
replaced before it could run its jobs. Works the same in every dispatch mode, and runs
the receivers in this process. Safe to run often and concurrently: each notification is
claimed, so one dispatched (or being dispatched) elsewhere meanwhile is skipped.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...dispatch.scheduling import sweep


class Command(BaseCommand):
    help = "Dispatch notifications whose dispatch has not finished after a while (cron)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=300,
            help="seconds after arrival (or after the last attempt began) before a "
            "dispatch counts as unfinished (default 300: longer than any receiver or "
            "queue wait should take)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["older_than"] < 0:
            raise CommandError("--older-than must be 0 or more seconds")
        report = sweep(options["older_than"])
        self.stdout.write(
            f"Dispatched {report.dispatched} unfinished notifications ({report.failed} "
            f"failed, {report.skipped} taken by another process meanwhile)."
        )
        if report.failed:
            raise CommandError(f"{report.failed} notifications failed; see their last_error")
