"""Recompute the order book and the number inventory from the stored notifications.

For an installation that kept notifications before the book existed, after a prune, or
to check the live tables: every notification already dispatched goes once more through
:func:`~django_bw_notifications.state.book.learn`, in the order of its moment
(Bandwidth's ``LastModifiedDate``, else arrival), without announcing anything and
keeping the copy decisions made live. The tables then hold what live processing keeps
whatever order the deliveries came in; the histories (``changes``) hold what happened
in that order, rather than in the order we learned it.

Safe while deliveries arrive: one transaction per account that first locks both tables
against writers (PostgreSQL: ``LOCK TABLE … IN EXCLUSIVE MODE``; SQLite: its write lock).
A dispatch that needs them meanwhile waits, or (a dispatch after the answer, bounded by
its claim's patience) gives up whole and stays ``pending`` for the sweeper; one that
has not been dispatched yet is not rebuilt here and learns on its own dispatch.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections, router, transaction
from django.db.models import F
from django.db.models.functions import Coalesce

from ..models import Notification
from .book import learn
from .models import AccountNumber, AccountNumberChange, Order, OrderChange

__all__ = ["Rebuilt", "rebuild"]

#: Notifications read per query.
BATCH = 1000

#: The fields :func:`~django_bw_notifications.state.book.learn` reads.
_FIELDS = (
    "id",
    "account",
    "order_type",
    "order_id",
    "customer_order_id",
    "status",
    "note",
    "event_type",
    "last_modified_date",
    "actual_foc_date",
    "received_at",
    "copy_of_id",
)


@dataclass(frozen=True)
class Rebuilt:
    """What one account's rebuild made."""

    account: str
    notifications: int
    orders: int
    numbers: int


def rebuild(account: str, using: str | None = None) -> Rebuilt:
    """Replace ``account``'s orders and numbers ("" for an installation without
    accounts) with what its dispatched notifications say."""
    db = using or router.db_for_write(Order)
    with transaction.atomic(using=db):
        _lock_out_writers(db)
        Notification.objects.using(db).filter(account=account, order_entry__isnull=False).update(
            order_entry=None
        )
        OrderChange.objects.using(db).filter(order__account=account).delete()
        AccountNumberChange.objects.using(db).filter(number__account=account).delete()
        Order.objects.using(db).filter(account=account).delete()
        AccountNumber.objects.using(db).filter(account=account).delete()
        dispatched = Notification.objects.using(db).filter(account=account, attempts__gt=0)
        ids = list(
            dispatched.annotate(moment=Coalesce("last_modified_date", "received_at"))
            .order_by(F("moment").asc(), "received_at", "id")
            .values_list("id", flat=True)
        )
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            rows = Notification.objects.using(db).only(*_FIELDS).in_bulk(batch)
            for pk in batch:
                learn(rows[pk], db, rebuilding=True)
        return Rebuilt(
            account=account,
            notifications=len(ids),
            orders=Order.objects.using(db).filter(account=account).count(),
            numbers=AccountNumber.objects.using(db).filter(account=account).count(),
        )


def _lock_out_writers(db: str) -> None:
    connection = connections[db]
    if connection.vendor != "postgresql":
        return  # SQLite: the first write below takes the database's write lock
    quote = connection.ops.quote_name
    tables = ", ".join(quote(model._meta.db_table) for model in (Order, AccountNumber))
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
