"""``manage.py bw_notifications_health``: are notifications arriving and being handled?

For cron and monitoring: prints each endpoint's last delivery and what needs looking at,
and exits non-zero when something does (an endpoint silent for longer than
``BW_NOTIFICATIONS_SILENT_AFTER``, notifications stuck for ``BW_NOTIFICATIONS_STUCK_AFTER``).
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...ops.health import check_health


class Command(BaseCommand):
    help = "Report silent endpoints and stuck notifications; exit 1 when there are any."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="JSON for scripts")

    def handle(self, *args: Any, **options: Any) -> None:
        health = check_health()
        if options["json"]:
            self.stdout.write(json.dumps(health.as_dict(), indent=2))
        else:
            for endpoint in health.endpoints:
                last = (
                    f"{endpoint.last_delivery_at:%Y-%m-%d %H:%M:%S %Z}"
                    if endpoint.last_delivery_at
                    else "never"
                )
                self.stdout.write(f"{endpoint.label}: last delivery {last}")
            self.stdout.write(f"stuck: {health.stuck}; failed: {health.failed}")
        if not health.ok:
            raise CommandError("; ".join(health.problems))
