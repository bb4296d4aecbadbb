"""One trivial receiver on each side, so both dispatch to a real receiver."""

from typing import Any

from django.dispatch import Signal, receiver

from django_bw_notifications import signals

naive_received = Signal()
floor_received = Signal()
RECEIVED = {"ours": 0, "naive": 0, "floor": 0}


@receiver(signals.notification_received)
def count_ours(sender: Any, **kwargs: Any) -> None:
    RECEIVED["ours"] += 1


@receiver(naive_received)
def count_naive(sender: Any, **kwargs: Any) -> None:
    RECEIVED["naive"] += 1


@receiver(floor_received)
def count_floor(sender: Any, **kwargs: Any) -> None:
    RECEIVED["floor"] += 1
