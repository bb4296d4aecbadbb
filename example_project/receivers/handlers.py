"""What a host project writes: a few receivers that react to Bandwidth's notifications."""

import logging
import os
from typing import Any

from django.dispatch import receiver

from django_bw_notifications import signals
from django_bw_notifications.models import AccountNumber, Notification
from django_bw_notifications.signals import on_event, on_order

logger = logging.getLogger("receivers")


@receiver(signals.notification_received)
def log_every_notification(sender: Any, notification: Notification, **kwargs: Any) -> None:
    logger.info("received %s", notification)


@on_order("portins", "COMPLETE")
def port_in_complete(sender: Any, notification: Notification, **kwargs: Any) -> None:
    numbers = list(notification.telephone_numbers.values_list("e164", flat=True))
    logger.info("port-in %s complete: activate %s", notification.order_id, numbers)


@on_order("orders", "FAILED")
def order_failed(sender: Any, notification: Notification, **kwargs: Any) -> None:
    logger.warning("order %s failed: %s", notification.order_id, notification.message)


@on_event("MESSAGING_LOST")
def messaging_lost(sender: Any, notification: Notification, **kwargs: Any) -> None:
    numbers = list(notification.telephone_numbers.values_list("number", flat=True))
    logger.warning("messaging lost on %s", numbers)


@on_order("portins", "FOC")
def sync_foc_date_to_crm(
    sender: Any, notification: Notification, replay: bool = False, **kwargs: Any
) -> None:
    """Tell the CRM when the number ports. ``make demo`` sets EXAMPLE_CRM_FLAKY=1: the
    CRM is "down" on the first attempt, so the admin shows a failure, its traceback and
    the replay that mends it (a replay succeeds)."""
    if os.environ.get("EXAMPLE_CRM_FLAKY") == "1" and not replay:
        raise ConnectionError("CRM unreachable: connection refused (crm.internal:443)")
    logger.info("CRM: port-in %s FOC on %s", notification.order_id, notification.actual_foc_date)


@receiver(signals.number_changed)
def number_changed(sender: Any, number: AccountNumber, previous_state: str, **kwargs: Any) -> None:
    """The inventory moved a number: what a billing or provisioning system listens to."""
    level = logging.WARNING if previous_state == "in_service" else logging.INFO
    logger.log(
        level,
        "number %s: %s -> %s (%s %s)",
        number.e164,
        previous_state or "new",
        number.state,
        number.order_type,
        number.order_id,
    )
