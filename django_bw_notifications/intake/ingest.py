"""Store an already parsed notification and dispatch it: for other sources of notifications.

A thin door into :mod:`django_bw_notifications.intake.pipeline` for code that parsed (or built)
a notification itself, such as a future JSON receiver. It raises when the database does
not take the notification (the caller still holds it); the endpoint's spool is for
deliveries that cannot be asked again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.utils import timezone

from ..parsing import ParsedNotification
from .delivery import DELIVERED, Delivery
from .pipeline import Result, accept
from .storage import StoreResult

__all__ = ["StoreResult", "ingest"]


def ingest(
    parsed: ParsedNotification,
    *,
    remote_addr: str | None = None,
    headers: Mapping[str, str] | None = None,
    received_at: datetime | None = None,
    account: str = "",
    source: str = DELIVERED,
) -> StoreResult:
    """Store ``parsed`` and dispatch it once the transaction commits.

    A new notification is dispatched; a copy of one whose dispatch failed retries it
    (exactly once); any other copy is counted. Raises the database's error when it
    could not be stored.
    """
    delivery = Delivery(
        body=parsed.text.encode("utf-8"),
        received_at=received_at or timezone.now(),
        remote_addr=remote_addr,
        headers=dict(headers or {}),
        account=account,
        source=source,
    )
    outcome = accept(delivery, parsed=parsed, spool_on_failure=False)
    if outcome.notification is None:
        assert outcome.error is not None
        raise outcome.error
    return StoreResult(outcome.notification, created=outcome.result is Result.STORED)
