"""The delivery guarantee in one place: parse, then store, spool or refuse, then schedule.

Every notification comes through :func:`accept`: the endpoint's (the view only speaks
HTTP), the spool drain's and reconcile's. For each delivery exactly one of these holds
(``shared/DESIGN.md`` §1):

- it is stored (or recognised as a copy of a stored one) and its dispatch is scheduled:
  ``200``;
- the database did not take it within the time budget (an error, a lock, a stall): it
  is durably spooled for ``bw_notifications_drain_spool``: ``200``;
- it cannot be parsed: it is kept as a ``RejectedDelivery``: ``400``;
- neither the database nor the spool took it: ``503``, and its body is in the error log.

Nothing raises out of :func:`accept`: an unexpected error is one of the answers above.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from django.db import InterfaceError, OperationalError

from ..conf import app_settings
from ..dispatch import scheduling
from ..models import Notification, RejectedDelivery
from ..parsing import NotificationParseError, ParsedNotification, parse_notification
from . import spool, storage
from .delivery import Delivery

__all__ = ["Outcome", "Result", "accept", "deadline", "is_transient", "refuse"]

logger = logging.getLogger("django_bw_notifications")


class Result(StrEnum):
    """What became of a delivery."""

    STORED = "stored"
    #: A copy of a notification already stored (its count went up).
    DUPLICATE = "duplicate"
    SPOOLED = "spooled"
    #: Refused with a 4xx; kept as a ``RejectedDelivery`` when the database allowed.
    REFUSED = "refused"
    #: Neither stored nor spooled: 503, body in the error log.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The pipeline's verdict on one delivery, and the answer it calls for."""

    result: Result
    status_code: int
    reason: str
    notification: Notification | None = None
    #: The spool file (``SPOOLED``).
    spooled_to: Path | None = None
    #: The kept rejection (``REFUSED``; None if even that could not be stored).
    rejection: RejectedDelivery | None = None
    #: Why it was not stored (``SPOOLED``, ``UNAVAILABLE``).
    error: BaseException | None = None


def deadline(started: float | None = None) -> float:
    """The :func:`time.monotonic` instant by which a delivery that started at
    ``started`` (default: now) must have its answer (``BW_NOTIFICATIONS_TIME_BUDGET``)."""
    return (time.monotonic() if started is None else started) + app_settings.TIME_BUDGET


#: Kept back from the budget for what follows the database: writing the spool file and
#: sending the answer.
_ANSWER_RESERVE = 0.5


def _database_deadline(answer_by: float | None) -> float | None:
    return None if answer_by is None else answer_by - _ANSWER_RESERVE


def accept(
    delivery: Delivery,
    *,
    parsed: ParsedNotification | None = None,
    answer_by: float | None = None,
    later: scheduling.Later | None = None,
    spool_on_failure: bool = True,
) -> Outcome:
    """Take one delivery through the guarantee; never raises.

    ``parsed``: the delivery already parsed (reconcile builds it itself). ``answer_by``:
    a :func:`time.monotonic` deadline (see :func:`deadline`); the database gets what is
    left of it, less a reserve for spooling and answering. ``later``: where dispatch
    jobs go to run after the answer (the endpoint's response). ``spool_on_failure``:
    False for a caller that keeps the delivery itself (the drain): the outcome is then
    ``UNAVAILABLE`` with the ``error``, and nothing is logged for it.
    """
    if parsed is None:
        try:
            parsed = parse_notification(delivery.body)
        except NotificationParseError as err:
            return refuse(delivery, 400, str(err), answer_by=answer_by)
        except Exception as err:
            # A bug of ours must not lose the body: kept like any unparseable one.
            logger.exception("The parser failed on a delivery")
            reason = f"the body could not be parsed ({type(err).__name__}); see the server log"
            return refuse(delivery, 400, reason, answer_by=answer_by)
    try:
        stored = storage.store(parsed, delivery, deadline=_database_deadline(answer_by))
    except Exception as err:
        return _not_stored(delivery, parsed, err, spool_on_failure)
    try:
        scheduling.after_store(stored.notification, stored.created, later=later)
    except Exception:
        # Stored, so still a 200: it stays pending, where the sweeper finds it.
        logger.exception("Could not schedule notification %s", stored.notification.pk)
    return Outcome(
        Result.STORED if stored.created else Result.DUPLICATE,
        200,
        "OK",
        notification=stored.notification,
    )


def refuse(
    delivery: Delivery,
    status_code: int,
    reason: str,
    *,
    body_size: int | None = None,
    answer_by: float | None = None,
) -> Outcome:
    """Refuse an authenticated delivery with a 4xx, keeping it as a ``RejectedDelivery``."""
    logger.warning(
        "Refused a delivery from %s%s: %s %s",
        delivery.remote_addr,
        f" to account {delivery.account!r}" if delivery.account else "",
        status_code,
        reason,
    )
    rejection = storage.record_rejection(
        delivery,
        status_code=status_code,
        reason=reason,
        body_size=body_size,
        deadline=_database_deadline(answer_by),
    )
    return Outcome(Result.REFUSED, status_code, reason, rejection=rejection)


def is_transient(error: BaseException) -> bool:
    """True for a database that is down, stalled or busy (worth trying again later);
    False for one that refuses this delivery for good (a value it cannot hold, a bug)."""
    return isinstance(error, (OperationalError, InterfaceError))


def _not_stored(
    delivery: Delivery, parsed: ParsedNotification, error: Exception, spool_on_failure: bool
) -> Outcome:
    reason = "the notification could not be stored; see the server log"
    if not spool_on_failure:
        return Outcome(Result.UNAVAILABLE, 503, reason, error=error)
    directory = app_settings.SPOOL_DIR
    if directory is not None:
        try:
            path = spool.write(directory, delivery)
        except OSError:
            logger.exception("Could not spool a notification to %s", directory)
        else:
            logger.error(
                "Could not store a notification (%s: %s); spooled it to %s "
                "(run manage.py bw_notifications_drain_spool once the database is back)",
                type(error).__name__,
                error,
                path,
                exc_info=error,
            )
            return Outcome(Result.SPOOLED, 200, "OK", spooled_to=path, error=error)
    # The last place it can be recovered from.
    logger.error(
        "Could not store a notification; its body follows:\n%s", parsed.text, exc_info=error
    )
    return Outcome(Result.UNAVAILABLE, 503, reason, error=error)
