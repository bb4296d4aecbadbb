"""``manage.py bw_notifications_rebuild_state [--account NAME]``: recompute the order book
and the number inventory from the stored notifications.

Run it once after upgrading an installation that already stored notifications (the
tables start empty), after a prune, or to compare the live tables with the history.
Each account is rebuilt in its own transaction, safe while deliveries arrive (see
:mod:`django_bw_notifications.state.rebuild`). Signals are not sent: a rebuild is not
news.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...accounts import account_names
from ...models import AccountNumber, Notification, Order
from ...state.rebuild import rebuild


class Command(BaseCommand):
    help = (
        "Recompute orders and numbers (the order book and the inventory) from the stored "
        "notifications, per account."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--account",
            action="append",
            dest="accounts",
            metavar="NAME",
            help="only this BW_NOTIFICATIONS_ACCOUNTS name (repeatable); default: every "
            "account that has notifications, orders or numbers",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stored = _accounts_in_the_tables()
        chosen = options["accounts"]
        if chosen:
            unknown = [
                name for name in chosen if name not in account_names() and name not in stored
            ]
            if unknown:
                known = ", ".join(repr(name) for name in sorted({*account_names(), *stored}))
                raise CommandError(
                    f"no account {', '.join(map(repr, unknown))} (configured or stored: "
                    f"{known or 'none'})"
                )
        for account in chosen or sorted(stored):
            done = rebuild(account)
            self.stdout.write(
                f"{_label(account)}: {done.notifications} notifications → "
                f"{done.orders} orders, {done.numbers} numbers"
            )


def _accounts_in_the_tables() -> set[str]:
    found: set[str] = set()
    for model in (Notification, Order, AccountNumber):
        found.update(model.objects.order_by().values_list("account", flat=True).distinct())
    return found


def _label(account: str) -> str:
    return f"account {account!r}" if account else "notifications without an account"
