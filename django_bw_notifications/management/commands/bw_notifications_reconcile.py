"""``manage.py bw_notifications_reconcile``: recover notifications that never arrived.

For each order whose latest stored notification is not final and older than
``--older-than`` seconds (default ``BW_NOTIFICATIONS_RECONCILE_AFTER``), asks the Numbers
API for the order; where Bandwidth's status differs, stores a reconciled notification
and dispatches it once. Safe from cron and safe to run twice. Exits non-zero when
Bandwidth could not be asked about some order (the others are still done).
"""

from __future__ import annotations

from argparse import ArgumentParser
from collections import Counter
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...accounts import AccountError, get_account
from ...bandwidth.client import RECONCILABLE_ORDER_TYPES, BandwidthAPIError, NumbersClient
from ...bandwidth.reconcile import account_for, candidates, reconcile_order
from ...conf import app_settings
from ...models import Notification


class Command(BaseCommand):
    help = (
        "Ask Bandwidth about orders whose latest notification is not final, and store and "
        "dispatch (once) the notifications that were missed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--account", help="only this account (default: every account)")
        parser.add_argument(
            "--older-than",
            type=int,
            metavar="SECONDS",
            help="only orders without news for this long (default: "
            "BW_NOTIFICATIONS_RECONCILE_AFTER)",
        )
        parser.add_argument(
            "--within-days",
            type=int,
            default=30,
            metavar="DAYS",
            help="only orders with a notification in this many days (default: 30)",
        )
        parser.add_argument(
            "--order-type", action="append", dest="order_types", default=[], metavar="TYPE"
        )
        parser.add_argument("--dry-run", action="store_true", help="ask, but store nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        older_than = options["older_than"]
        if older_than is None:
            older_than = app_settings.RECONCILE_AFTER
        if older_than < 0 or options["within_days"] <= 0:
            raise CommandError("--older-than must be >= 0 and --within-days > 0")
        if options["account"]:
            self._account(options["account"])  # an unknown account is an error, even idle
        found = candidates(
            options["account"],
            older_than=timedelta(seconds=older_than),
            within=timedelta(days=options["within_days"]),
            order_types=tuple(options["order_types"]),
        )
        counts: Counter[str] = Counter()
        unsupported: Counter[str] = Counter()
        errors: list[str] = []
        clients: dict[str, NumbersClient] = {}
        try:
            for latest in found:
                label = f"{latest.order_type} {latest.order_id}"
                try:
                    client = self._client(clients, latest)
                    outcome = reconcile_order(client, latest, dry_run=options["dry_run"])
                except (BandwidthAPIError, AccountError) as err:
                    errors.append(f"{label}: {err}")
                    self.stderr.write(self.style.ERROR(f"{label}: {err}"))
                    continue
                counts[outcome.action] += 1
                if outcome.action == "unsupported":
                    unsupported[latest.order_type] += 1
                elif outcome.action == "unchanged":
                    self.stdout.write(f"{label}: still {latest.status}")
                elif outcome.action == "would-store":
                    self.stdout.write(
                        f"{label}: ours {latest.status}, Bandwidth {outcome.bandwidth_status} "
                        "(dry run: nothing stored)"
                    )
                else:
                    stored = outcome.stored
                    assert stored is not None
                    verb = "stored" if outcome.action == "stored" else "already stored as"
                    self.stdout.write(
                        self.style.SUCCESS(
                            f"{label}: ours {latest.status}, Bandwidth "
                            f"{outcome.bandwidth_status}: {verb} notification {stored.pk}"
                        )
                    )
        finally:
            for client in clients.values():
                client.close()
        supported = ", ".join(RECONCILABLE_ORDER_TYPES)
        for order_type, count in sorted(unsupported.items()):
            self.stdout.write(
                self.style.WARNING(
                    f"{order_type}: {count} order(s) not checked: fetching {order_type} "
                    f"orders is not supported yet (supported: {supported})"
                )
            )
        self.stdout.write(
            f"{len(found)} order(s) to check: {counts['stored']} reconciled, "
            f"{counts['unchanged']} unchanged, {counts['duplicate']} already reconciled, "
            f"{counts['would-store']} would be reconciled, {counts['unsupported']} unsupported, "
            f"{len(errors)} failed"
        )
        if errors:
            raise CommandError(f"Bandwidth could not be asked about {len(errors)} order(s)")

    def _account(self, name: str) -> None:
        try:
            get_account(name)
        except AccountError as err:
            raise CommandError(str(err)) from None

    def _client(self, clients: dict[str, NumbersClient], latest: Notification) -> NumbersClient:
        account = account_for(latest)
        if account.name not in clients:
            clients[account.name] = NumbersClient(account)
        return clients[account.name]
