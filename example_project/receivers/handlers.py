"""What a host project writes: a few receivers that react to Bandwidth's notifications."""

import logging
from typing import Any

from django.dispatch import receiver

from django_bw_notifications import signals
from django_bw_notifications.models import Notification
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
