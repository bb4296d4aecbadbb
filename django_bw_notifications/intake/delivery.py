"""One delivery as it reached us: the bytes and the facts of their arrival.

A :class:`Delivery` travels whole from the place that received it (the endpoint, the
spool drain, reconcile) through :func:`django_bw_notifications.intake.pipeline.accept` to the
stored row, the spool file or the rejected-delivery record, so no field is dropped on the
way and no signature grows a keyword per fact. It knows nothing of Django.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

__all__ = ["DELIVERED", "RECONCILED", "Delivery"]

#: ``Delivery.source`` of a notification Bandwidth POSTed to us.
DELIVERED = "delivery"
#: ``Delivery.source`` of a notification synthesised from the Numbers API by reconcile.
RECONCILED = "reconciled"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notification body and where and when it arrived."""

    #: The body as received.
    body: bytes
    #: When it reached us (a spooled delivery keeps its first arrival time).
    received_at: datetime
    #: The client address (after the trusted-proxy rule), or None.
    remote_addr: str | None = None
    #: Allow-listed request headers (never credentials).
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: The ``BW_NOTIFICATIONS_ACCOUNTS`` name of the endpoint it arrived on ("" for none).
    account: str = ""
    #: :data:`DELIVERED` or :data:`RECONCILED`.
    source: str = DELIVERED
    #: The request's ``Content-Type`` as sent ("" when none).
    content_type: str = ""
