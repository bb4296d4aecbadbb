"""``manage.py bw_notifications_health``: are notifications arriving and being handled?

For cron and monitoring: prints each endpoint's last delivery and what needs looking at,
and exits non-zero when something does (an account silent for longer than
``BW_NOTIFICATIONS_SILENT_AFTER``, notifications stuck for ``BW_NOTIFICATIONS_STUCK_AFTER``,
failed ones from ``BW_NOTIFICATIONS_FAILED_ALERT_AT`` on). Each problem is also announced
once, when it starts and when it clears (:mod:`django_bw_notifications.ops.alerts`);
``--no-alerts`` only looks.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ...ops.alerts import announce, logger
from ...ops.health import check_health


class Command(BaseCommand):
    help = (
        "Report silent accounts, stuck and failed notifications; exit 1 when there are "
        "any. Each problem is logged at ERROR and sent as health_problem once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="JSON for scripts")
        parser.add_argument(
            "--no-alerts",
            action="store_true",
            help="only look: announce nothing (the next cron run still will)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            health = check_health()
            if not options["no_alerts"]:
                announce(health)
        except DatabaseError as err:
            # Nothing can be remembered without the database: told on every run.
            logger.error(
                "Bandwidth notifications: the database cannot be read (%s)",
                err,
                extra={"problem": "database", "account": ""},
            )
            raise CommandError(
                f"the database cannot be read within BW_NOTIFICATIONS_TIME_BUDGET: {err}"
            ) from err
        except ImproperlyConfigured as err:
            raise CommandError(f"{err} (manage.py check says so too)") from err
        if options["json"]:
            self.stdout.write(json.dumps(health.as_dict(), indent=2))
        else:
            for endpoint in health.endpoints:
                last = (
                    f"{endpoint.last_delivery_at:%Y-%m-%d %H:%M:%S %Z}"
                    if endpoint.last_delivery_at
                    else "never"
                )
                self.stdout.write(f"{endpoint.name}: last delivery {last}")
            self.stdout.write(f"stuck: {health.stuck}; failed: {health.failed}")
        if not health.ok:
            raise CommandError("; ".join(health.problems))
