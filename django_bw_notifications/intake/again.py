"""Accept a refused delivery again: a kept ``RejectedDelivery`` body through the pipeline,
as if it had just arrived authenticated on its endpoint, with its original arrival time.

For the day a parser fix or a new account makes a refused body acceptable. Exactly once:
the row is claimed by a conditional ``UPDATE`` (``accepted_at`` still empty) before
anything is stored, so a double submit or a second operator finds it taken; a claim
whose storing fails is released. Both rows record it: the rejection's ``accepted_at`` and
``accepted_as``, the notification's ``accepted_from``.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from django.utils import timezone

from ..models import Notification, RejectedDelivery
from ..parsing import NotificationParseError, parse_notification
from . import pipeline
from .delivery import Delivery

__all__ = ["Again", "AgainOutcome", "accept_again"]

logger = logging.getLogger(__name__)


class Again(enum.Enum):
    """What accepting one refused delivery again did."""

    #: Stored as a new notification (and dispatched).
    ACCEPTED = "accepted"
    #: The same notification was stored already (it is linked to that one).
    DUPLICATE = "duplicate"
    #: Accepted before (or at this moment by someone else): nothing done.
    ALREADY = "already"
    #: Still refused (the body does not parse, or was not kept): nothing done.
    REFUSED = "refused"
    #: The database did not take it: nothing done, try again.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class AgainOutcome:
    result: Again
    reason: str = ""
    notification: Notification | None = None


def accept_again(pk: int) -> AgainOutcome:
    """Pass rejected delivery ``pk`` through the pipeline once."""
    claimed = RejectedDelivery.objects.filter(pk=pk, accepted_at__isnull=True).update(
        accepted_at=timezone.now()
    )
    if not claimed:
        return AgainOutcome(Again.ALREADY, "accepted already")
    row = RejectedDelivery.objects.get(pk=pk)
    body = bytes(row.body)
    if not body:
        why = "it was too large to keep" if row.body_size else "it was empty"
        return _release(pk, Again.REFUSED, f"there is no body to accept ({why})")
    try:
        parsed = parse_notification(body)
    except NotificationParseError as err:
        return _release(pk, Again.REFUSED, f"still refused: {err}")
    except Exception as err:  # a parser bug: the row stays as it is, for the next fix
        return _release(pk, Again.REFUSED, f"still refused: the parser failed ({err!r})")
    delivery = Delivery(
        body=body,
        received_at=row.received_at,
        remote_addr=row.remote_addr,
        headers=dict(row.headers or {}),
        account=row.account,
        content_type=row.content_type,
    )
    outcome = pipeline.accept(delivery, parsed=parsed, spool_on_failure=False)
    if outcome.notification is None:
        # The pipeline logs nothing with spool_on_failure=False: the row is kept, so say why.
        logger.error("Rejected delivery %s could not be accepted again: %r", pk, outcome.error)
        return _release(pk, Again.UNAVAILABLE, f"{outcome.reason} ({outcome.error!r})")
    RejectedDelivery.objects.filter(pk=pk).update(accepted_as=outcome.notification)
    result = Again.ACCEPTED if outcome.result is pipeline.Result.STORED else Again.DUPLICATE
    return AgainOutcome(result, notification=outcome.notification)


def _release(pk: int, result: Again, reason: str) -> AgainOutcome:
    RejectedDelivery.objects.filter(pk=pk).update(accepted_at=None)
    return AgainOutcome(result, reason)
