"""Recover notifications Bandwidth sent while we could not receive them.

Bandwidth sends each notification once. For every order whose latest stored
notification is not in a final state and has had no news for a while, ask the Numbers
API where the order is; when Bandwidth's status differs from ours, store a notification
synthesised from the API's answer (``source = "reconciled"``, the answer kept as
``raw_body``) through the same ingest path as a delivery, so it is dispatched like any
other, exactly once: its content fingerprint makes a second run, or two concurrent
runs, a duplicate.
"""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass
from datetime import timedelta
from functools import reduce

from django.db.models import Max, Q, Subquery
from django.db.models.functions import Lower
from django.utils import timezone

from ..accounts import DEFAULT_ACCOUNT, Account, get_account, news_key, recorded_names
from ..catalog import final_status_keys, normalise_name
from ..intake.ingest import ingest
from ..models import Notification, Source
from ..parsing import ParsedNotification, TelephoneNumber, parse_date, to_e164
from .client import RECONCILABLE_ORDER_TYPES, BandwidthAPIError, NumbersClient, OrderState

__all__ = [
    "Outcome",
    "account_for",
    "candidates",
    "fetch_order_details",
    "reconcile_order",
    "synthesise",
]

logger = logging.getLogger("django_bw_notifications.bandwidth.reconcile")


@dataclass(frozen=True)
class Outcome:
    """What reconciling one order did.

    ``action``: ``unchanged`` (Bandwidth agrees), ``stored`` (a reconciled notification
    was stored and dispatched), ``duplicate`` (it was already stored), ``unsupported``
    (the order type cannot be fetched yet) or ``would-store`` (dry run).
    """

    latest: Notification
    action: str
    bandwidth_status: str = ""
    stored: Notification | None = None


def candidates(
    account: str | None,
    *,
    older_than: timedelta,
    within: timedelta,
    order_types: tuple[str, ...] = (),
) -> list[Notification]:
    """The latest notification of each order that may have news, oldest first.

    An order qualifies when its latest (non-stale) notification was received within
    ``within`` but longer than ``older_than`` ago, and its status is not final.
    ``account`` None: every account; the ``default`` account also covers notifications
    stored before accounts were configured (account "").
    """
    now = timezone.now()
    recent = Notification.objects.filter(
        received_at__gte=now - within, is_stale=False, order_id__gt=""
    ).exclude(order_type="")
    if account is not None:
        recent = recent.filter(account__in=recorded_names(account))
    if order_types:
        # Stored spellings vary in case ("portins", "PortIns").
        recent = recent.filter(reduce(operator.or_, (Q(order_type__iexact=t) for t in order_types)))
    latest_ids = (
        recent.values("account", "order_type", "order_id")
        .annotate(latest=Max("id"))
        .values("latest")
    )
    # One statement: the latest of each order, quiet long enough, not final. Only the
    # columns reconciliation reads (a body can be megabytes).
    latest = (
        Notification.objects.filter(pk__in=Subquery(latest_ids), received_at__lt=now - older_than)
        .annotate(type_key=Lower("order_type"), status_key=Lower("status"))
        .exclude(_final())
        .only(*_COLUMNS)
        .order_by("received_at", "id")
    )
    return list(latest)


#: What reconciliation and the command's report read of a notification.
_COLUMNS = (
    "received_at",
    "account",
    "order_type",
    "order_id",
    "customer_order_id",
    "status",
)


def _final() -> Q:
    # catalog.is_final_status as SQL; LOWER() matches normalise_name() for ASCII names.
    by_type, default = final_status_keys()
    specific = reduce(
        operator.or_,
        (Q(type_key=key, status_key__in=finals) for key, finals in by_type.items()),
    )
    return specific | (~Q(type_key__in=by_type) & Q(status_key__in=default))


def synthesise(state: OrderState, latest: Notification) -> ParsedNotification:
    """The notification Bandwidth would have sent for ``state`` (the order's spelling of
    its type and ids kept from ``latest``)."""
    return ParsedNotification(
        order_type=latest.order_type,
        order_id=latest.order_id,
        customer_order_id=state.customer_order_id or latest.customer_order_id,
        status=state.status,
        message=state.message,
        last_modified_date=parse_date(state.last_modified_date),
        last_modified_date_text=state.last_modified_date,
        actual_foc_date=parse_date(state.actual_foc_date),
        actual_foc_date_text=state.actual_foc_date,
        telephone_numbers=tuple(
            TelephoneNumber(number, to_e164(number), "completed")
            for number in state.telephone_numbers
        ),
        text=state.raw,
    )


def reconcile_order(
    client: NumbersClient, latest: Notification, *, dry_run: bool = False
) -> Outcome:
    """Ask Bandwidth about ``latest``'s order; store and dispatch what we missed.

    Raises :class:`~django_bw_notifications.bandwidth.client.BandwidthAPIError` when Bandwidth
    cannot answer.
    """
    if normalise_name(latest.order_type) not in RECONCILABLE_ORDER_TYPES:
        return Outcome(latest, "unsupported")
    state = client.get_order(latest.order_type, latest.order_id)
    if not state.status:
        raise BandwidthAPIError(
            f"Bandwidth's answer for {latest.order_type} {latest.order_id} has no status"
        )
    # The same state as our latest is nothing to store: the same news by the owner of
    # that rule (a FOC date Bandwidth moved is news; an answer without one keeps ours;
    # a note is not part of an order's answer).
    foc = parse_date(state.actual_foc_date) if state.actual_foc_date else latest.actual_foc_date
    if news_key(state.status, foc, "") == news_key(latest.status, latest.actual_foc_date, ""):
        return Outcome(latest, "unchanged", state.status)
    if dry_run:
        return Outcome(latest, "would-store", state.status)
    result = ingest(synthesise(state, latest), account=latest.account, source=Source.RECONCILED)
    logger.info(
        "Reconciled %s %s: %s -> %s (notification %s, %s)",
        latest.order_type,
        latest.order_id,
        latest.status,
        state.status,
        result.notification.pk,
        "stored" if result.created else "already stored",
    )
    return Outcome(
        latest, "stored" if result.created else "duplicate", state.status, result.notification
    )


def fetch_order_details(notification: Notification) -> OrderState:
    """The order behind ``notification`` as the Numbers API returns it now.

    A notification is only a summary; this is the whole order (``OrderState.raw``). Uses
    the account the notification arrived on (the ``default`` account when it has none).
    Raises ``AccountError`` or ``BandwidthAPIError`` with a message for people.
    """
    with NumbersClient(account_for(notification)) as client:
        return client.get_order(notification.order_type, notification.order_id)


def account_for(notification: Notification) -> Account:
    """The configured account a stored notification belongs to."""
    return get_account(notification.account or DEFAULT_ACCOUNT)
