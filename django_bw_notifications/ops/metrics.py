"""Metrics for Prometheus, read from the database at scrape time.

Every figure comes from the tables, not from counters in the process, so each gunicorn
worker and each host answers a scrape with the same numbers and no multiprocess mode is
needed. A scrape costs a fixed number of queries whatever the table sizes: the health
check's (one per account, plus two), and one ``GROUP BY`` each for notifications,
refused deliveries, orders and numbers. The subscriptions' figures come from Bandwidth,
listed at most every few minutes per process (:mod:`.subscriptions`), never waited on
for long. Needs ``prometheus_client`` (the ``metrics`` extra). The names are listed in
``docs/operations.md``.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime

from django.db import router
from django.db.models import Count, Q
from django.db.models.functions import Lower
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ..accounts import account_of
from ..bandwidth.subscriptions import health as subscription_problems
from ..catalog import is_known_event_type, is_known_order_type
from ..conf import app_settings
from ..database.budget import bounded
from ..intake.delivery import RECONCILED
from ..models import AccountNumber, Notification, Order, RejectedDelivery
from .health import Health, check_health, read_deadline
from .subscriptions import listings

__all__ = ["OTHER", "REFUSAL_REASONS", "NotificationsCollector", "registry"]

#: ``reason`` label of ``bw_notifications_refused_deliveries`` by the answer's status.
REFUSAL_REASONS = {400: "unparseable", 413: "too_large", 415: "unsupported_media_type"}

_PREFIX = "bw_notifications_"

#: The ``order_type`` or ``event_type`` label of a type the catalog does not know.
OTHER = "other"


class NotificationsCollector(Collector):
    """Yields every ``bw_notifications_*`` metric, measured when collected, before
    ``deadline`` (a :func:`time.monotonic` instant; None: the time budget from then)."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline

    def collect(self) -> Iterator[Metric]:
        # All the database's figures within one time budget (a lock or a stalled server
        # makes the scrape answer 503 in time), read before Bandwidth is asked, so that
        # no transaction stays open across that call.
        deadline = read_deadline() if self.deadline is None else self.deadline
        # The failed count comes exact from _notifications(): not counted twice.
        health = check_health(verdict_only=True, deadline=deadline)
        with bounded(router.db_for_read(Notification), deadline, statements=4):
            measured = [
                *_health(health),
                *_notifications(),
                *_refusals(),
                *_orders(),
                *_numbers(),
            ]
        yield from measured
        yield from _subscriptions()


def registry(deadline: float | None = None) -> CollectorRegistry:
    """A registry holding only our collector (the process's default one is left alone),
    reading before ``deadline`` (None: the time budget from collection on)."""
    found = CollectorRegistry(auto_describe=False)
    found.register(NotificationsCollector(deadline))
    return found


def _gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(_PREFIX + name, documentation, labels=list(labels))


def _health(health: Health) -> Iterator[Metric]:
    healthy = _gauge("healthy", "1 when bw_notifications_health finds nothing to look at.")
    healthy.add_metric([], 1 if health.ok else 0)
    problems = _gauge("health_problems", "Problems bw_notifications_health reports now.")
    problems.add_metric([], len(health.issues))
    stuck = _gauge("stuck_notifications", "Dispatch unfinished BW_NOTIFICATIONS_STUCK_AFTER on.")
    stuck.add_metric([], health.stuck)
    last = _gauge(
        "last_delivery_timestamp_seconds",
        "When the account's endpoint last received a delivery (Unix time).",
        ("account",),
    )
    age = _gauge(
        "seconds_since_last_delivery",
        "Seconds since the account's endpoint last received a delivery.",
        ("account",),
    )
    silent = _gauge(
        "account_silent",
        "1 when the account has received nothing for BW_NOTIFICATIONS_SILENT_AFTER (or ever).",
        ("account",),
    )
    for endpoint in health.endpoints:
        silent.add_metric([endpoint.account], 1 if endpoint.silent else 0)
        if endpoint.last_delivery_at is not None:
            last.add_metric([endpoint.account], _unix(endpoint.last_delivery_at))
            age.add_metric(
                [endpoint.account],
                max((health.checked_at - endpoint.last_delivery_at).total_seconds(), 0.0),
            )
    yield from (healthy, problems, stuck, last, age, silent)


def _notifications() -> Iterator[Metric]:
    stored = _gauge(
        "notifications",
        "Stored notifications by account, order type, event type, processing state, source.",
        ("account", "order_type", "event_type", "state", "source"),
    )
    by_state: dict[str, int] = defaultdict(int)
    reconciled: dict[str, int] = defaultdict(int)
    counted: Counter[tuple[str, str, str, str, str]] = Counter()
    rows = (
        Notification.objects.order_by()
        .annotate(type_=Lower("order_type"), event_=Lower("event_type"))
        .values_list("account", "type_", "event_", "processing_state", "source")
        .annotate(n=Count("id"))
    )
    for recorded, order_type, event_type, state, source, n in rows:
        account = account_of(recorded)
        labels = (account, _order_type(order_type), _event_type(event_type), state, source)
        counted[labels] += n
        by_state[state] += n
        if source == RECONCILED:
            reconciled[account] += n
    for labels, n in sorted(counted.items()):
        stored.add_metric(list(labels), n)
    yield stored
    for state in ("pending", "failed"):
        total = _gauge(f"{state}_notifications", f"Notifications whose processing is {state}.")
        total.add_metric([], by_state[state])
        yield total
    recovered = _gauge(
        "reconciled_notifications",
        "Notifications recovered by bw_notifications_reconcile (never delivered).",
        ("account",),
    )
    for account, n in sorted(reconciled.items()):
        recovered.add_metric([account], n)
    yield recovered


def _refusals() -> Iterator[Metric]:
    refused = _gauge(
        "refused_deliveries",
        "Refused deliveries kept as RejectedDelivery rows, by answer and reason.",
        ("status_code", "reason"),
    )
    rows = RejectedDelivery.objects.order_by().values_list("status_code").annotate(n=Count("id"))
    for status_code, n in rows:
        refused.add_metric([str(status_code), REFUSAL_REASONS.get(status_code, "other")], n)
    yield refused


def _orders() -> Iterator[Metric]:
    orders = _gauge(
        "orders", "Orders in the order book, open or closed.", ("account", "order_type", "closed")
    )
    counted: Counter[tuple[str, str, str]] = Counter()
    rows = (
        Order.objects.order_by()
        .annotate(type_=Lower("order_type"))
        .values_list("account", "type_", "closed")
        .annotate(n=Count("id"))
    )
    for recorded, order_type, closed, n in rows:
        counted[account_of(recorded), _order_type(order_type), "true" if closed else "false"] += n
    for labels, n in sorted(counted.items()):
        orders.add_metric(list(labels), n)
    yield orders


def _numbers() -> Iterator[Metric]:
    numbers = _gauge("numbers", "Numbers in the inventory by state.", ("account", "state"))
    lost = _gauge("numbers_messaging_lost", "Numbers flagged MESSAGING_LOST.", ("account",))
    flagged: dict[str, int] = defaultdict(int)
    counted: Counter[tuple[str, str]] = Counter()
    rows = (
        AccountNumber.objects.order_by()
        .values_list("account", "state")
        .annotate(n=Count("id"), lost=Count("id", filter=Q(messaging_lost=True)))
    )
    for recorded, state, n, n_lost in rows:
        account = account_of(recorded)
        counted[account, state] += n
        flagged[account] += n_lost
    for labels, n in sorted(counted.items()):
        numbers.add_metric(list(labels), n)
    for account, n in sorted(flagged.items()):
        lost.add_metric([account], n)
    yield from (numbers, lost)


def _subscriptions() -> Iterator[Metric]:
    listed = _gauge(
        "subscriptions_listed",
        "1 when the account's subscriptions could be listed from Bandwidth.",
        ("account",),
    )
    count = _gauge(
        "subscriptions", "The account's subscriptions at Bandwidth.", ("account", "kind")
    )
    expiry = _gauge(
        "subscription_expiry_seconds",
        "Seconds before Bandwidth stops notifying on the subscription.",
        ("account", "subscription_id", "kind"),
    )
    problems = _gauge(
        "subscription_problems",
        "What bw_notifications_subscriptions status reports for the account (expiring "
        "within BW_NOTIFICATIONS_RENEW_BEFORE, no credentials, pointing elsewhere, missing).",
        ("account",),
    )
    now = time.monotonic()
    for listing in listings():
        name = listing.account.name
        listed.add_metric([name], 0 if listing.subscriptions is None else 1)
        if listing.subscriptions is None:
            continue
        for kind, n in sorted(Counter(s.kind for s in listing.subscriptions).items()):
            count.add_metric([name, kind], n)
        for subscription in listing.subscriptions:
            left = listing.seconds_left(subscription, now)
            if left is not None:
                expiry.add_metric([name, subscription.id, subscription.kind], left)
        found = subscription_problems(
            listing.account,
            list(listing.subscriptions),
            renew_before=app_settings.RENEW_BEFORE,
        )
        problems.add_metric([name], len(found))
    yield from (listed, count, expiry, problems)


def _order_type(order_type: str) -> str:
    """The ``order_type`` label: Bandwidth's catalogued types as stored (lower case),
    any other ``other``, so a sender cannot grow the series without bound."""
    return order_type if not order_type or is_known_order_type(order_type) else OTHER


def _event_type(event_type: str) -> str:
    """The ``event_type`` label, bounded as :func:`_order_type` is."""
    return event_type if not event_type or is_known_event_type(event_type) else OTHER


def _unix(moment: datetime) -> float:
    return moment.timestamp()
