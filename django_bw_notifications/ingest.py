"""Store a parsed notification durably, recognise duplicates, schedule its dispatch.

Independent of the wire format: the XML view feeds it today, a spool drain or a JSON
(subscriptions v2) receiver can feed it tomorrow.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.db.models import BooleanField, F, Field
from django.db.models.expressions import RawSQL
from django.utils import timezone

from . import dispatch
from .conf import app_settings
from .models import Notification, ProcessingState, RejectedDelivery, Source, TelephoneNumber
from .parsing import ParsedNotification

__all__ = ["StoreResult", "ingest", "record_rejection", "store"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoreResult:
    """The stored notification and whether this delivery created it."""

    notification: Notification
    #: False when an identical notification was already stored (a duplicate).
    created: bool


def store(
    parsed: ParsedNotification,
    *,
    remote_addr: str | None = None,
    headers: dict[str, str] | None = None,
    received_at: datetime | None = None,
    account: str = "",
    source: str = Source.DELIVERY,
) -> StoreResult:
    """Write ``parsed`` and its telephone numbers in one transaction.

    Two statements whatever the number of telephone numbers (the notification's INSERT,
    then one for all its numbers). A duplicate (same fingerprint) is
    recognised through the unique index, so concurrent copies cannot both be created;
    the existing row's ``duplicate_count`` is incremented instead. ``account`` is part of
    the identity: the same body on two accounts' endpoints is two notifications.
    """
    db = router.db_for_write(Notification)
    notification = Notification(
        received_at=_db_datetime(received_at) or timezone.now(),
        subscription_id=parsed.subscription_id,
        order_type=parsed.order_type,
        order_id=parsed.order_id,
        customer_order_id=parsed.customer_order_id,
        status=parsed.status,
        message=parsed.message,
        note=parsed.note,
        event_type=parsed.event_type,
        last_modified_date=_db_datetime(parsed.last_modified_date),
        last_modified_date_text=parsed.last_modified_date_text,
        actual_foc_date=_db_datetime(parsed.actual_foc_date),
        actual_foc_date_text=parsed.actual_foc_date_text,
        extra=dict(parsed.extra),
        telephone_number_count=len(parsed.telephone_numbers),
        raw_body=parsed.text,
        fingerprint=_fingerprint(parsed, account),
        account=account,
        source=source,
        remote_addr=remote_addr,
        headers=headers or {},
    )
    if parsed.order_id and notification.last_modified_date is not None:
        # Out-of-order delivery: evaluated inside the INSERT and returned with the row,
        # so it costs no statement of its own.
        notification.is_stale = _newer_exists(db, parsed, notification.last_modified_date)
    try:
        with transaction.atomic(using=db):
            notification.save(using=db, force_insert=True)
            if parsed.telephone_numbers:
                _insert_numbers(db, notification.pk, parsed)
        if isinstance(notification.is_stale, RawSQL):
            # A backend without INSERT ... RETURNING leaves the expression in place.
            notification.refresh_from_db(using=db, fields=["is_stale"])
    except IntegrityError:
        existing = (
            Notification.objects.using(db).filter(fingerprint=notification.fingerprint).first()
        )
        if existing is None:
            raise  # not the fingerprint: a real integrity problem
        now = timezone.now()
        Notification.objects.using(db).filter(pk=existing.pk).update(
            duplicate_count=F("duplicate_count") + 1, last_duplicate_at=now
        )
        existing.duplicate_count += 1
        existing.last_duplicate_at = now
        return StoreResult(existing, created=False)
    return StoreResult(notification, created=True)


def ingest(
    parsed: ParsedNotification,
    *,
    remote_addr: str | None = None,
    headers: dict[str, str] | None = None,
    received_at: datetime | None = None,
    account: str = "",
    source: str = Source.DELIVERY,
) -> StoreResult:
    """Store ``parsed`` and dispatch it once the transaction commits.

    A new notification is dispatched; a duplicate is not, unless the first copy's
    dispatch failed, in which case the duplicate retries it (exactly once, even when
    copies arrive concurrently). Outside a transaction, dispatch runs immediately. With
    ``BW_NOTIFICATIONS_DISPATCH = "task"`` it is enqueued instead (see ``tasks``).
    ``received_at`` defaults to now (a spooled delivery keeps its arrival time).
    """
    result = store(
        parsed,
        remote_addr=remote_addr,
        headers=headers,
        received_at=received_at,
        account=account,
        source=source,
    )
    notification = result.notification
    db = notification._state.db or "default"
    if app_settings.DISPATCH != "inline":
        # On a queue: a new notification, or a failed one Bandwidth sent again. The task
        # claims the row, so a copy enqueued twice still dispatches once.
        if result.created or notification.processing_state == ProcessingState.FAILED:
            transaction.on_commit(partial(dispatch.enqueuer(), notification), using=db, robust=True)
    elif result.created:
        transaction.on_commit(partial(dispatch.dispatch, notification), using=db, robust=True)
    elif notification.processing_state == ProcessingState.FAILED:
        transaction.on_commit(
            partial(dispatch.retry_failed, notification.pk, db), using=db, robust=True
        )
    return result


def record_rejection(
    *,
    status_code: int,
    reason: str,
    body: bytes,
    body_size: int,
    content_type: str,
    remote_addr: str | None,
    headers: dict[str, str],
) -> RejectedDelivery | None:
    """Keep a refused authenticated delivery for audit; None if it could not be stored.

    Never raises: the sender gets its 4xx whatever happens here.
    """
    try:
        with transaction.atomic(using=router.db_for_write(RejectedDelivery)):
            return RejectedDelivery.objects.create(
                status_code=status_code,
                reason=reason,
                body=body,
                body_size=body_size,
                content_type=content_type[:255],
                remote_addr=remote_addr,
                headers=headers,
            )
    except DatabaseError:
        logger.exception(
            "Could not store a rejected delivery (%s %s); its body follows:\n%r",
            status_code,
            reason,
            body,
        )
        return None


def _newer_exists(db: str, parsed: ParsedNotification, last_modified: datetime) -> RawSQL:
    """``EXISTS`` a notification of the same order with a later ``LastModifiedDate``.

    Written as SQL once per process: building the same query through the ORM's
    ``Exists`` costs about a millisecond of Python per notification, three times what
    the database spends answering it from the ``order_id`` index.
    """
    connection = connections[db]
    quote = connection.ops.quote_name
    opts = Notification._meta
    column = {
        name: quote(str(cast("Field[Any, Any]", opts.get_field(name)).column))
        for name in _STALE_COLUMNS
    }
    sql = (
        f"EXISTS(SELECT 1 FROM {quote(opts.db_table)} "  # noqa: S608 - names from metadata
        f"WHERE {column['order_id']} = %s AND UPPER({column['order_type']}) = UPPER(%s) "
        f"AND {column['last_modified_date']} > %s)"
    )
    when = connection.ops.adapt_datetimefield_value(last_modified)
    # Values go as parameters; only the quoted names are in the text.
    return RawSQL(  # noqa: S611
        sql, (parsed.order_id, parsed.order_type, when), output_field=BooleanField()
    )


_STALE_COLUMNS = ("order_id", "order_type", "last_modified_date")


def _insert_numbers(db: str, notification_id: int, parsed: ParsedNotification) -> None:
    """All the numbers of one notification in one statement, without model instances.

    On PostgreSQL the columns go as three arrays through ``UNNEST``; elsewhere one
    parametrised INSERT runs for every row through ``executemany`` (SQLite's module
    loops in C; MySQL's drivers batch it). A model instance per number would cost more
    than the INSERT itself at 5,000 numbers.
    """
    connection = connections[db]
    quote = connection.ops.quote_name
    columns = {f.name: quote(str(f.column)) for f in TelephoneNumber._meta.concrete_fields}
    insert = (
        f"INSERT INTO {quote(TelephoneNumber._meta.db_table)} "
        f"({columns['notification']}, {columns['number']}, {columns['e164']}, {columns['kind']}) "
    )
    numbers = parsed.telephone_numbers
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns_text = [_SEPARATOR.join(column) for column in zip(*numbers, strict=True)]
            # Three strings split by the server: adapting three lists of 5,000 strings
            # costs psycopg about 15 ms, joining them well under one. Not for a single
            # number: string_to_array('') is an empty array, not one empty string.
            if len(numbers) > 1 and all(
                text.count(_SEPARATOR) == len(numbers) - 1 for text in columns_text
            ):
                arrays = "string_to_array(%s, %s), string_to_array(%s, %s), string_to_array(%s, %s)"
                params: list[Any] = [p for text in columns_text for p in (text, _SEPARATOR)]
            else:
                arrays = "%s::varchar[], %s::varchar[], %s::varchar[]"
                params = [list(column) for column in zip(*numbers, strict=True)]
            cursor.execute(
                # Quoted names from the model's metadata; every value is a parameter.
                insert + f"SELECT %s, * FROM UNNEST({arrays})",  # noqa: S608
                [notification_id, *params],
            )
        else:
            cursor.executemany(
                insert + "VALUES (%s, %s, %s, %s)",
                [(notification_id, *number) for number in numbers],
            )


#: Joins a column of numbers for string_to_array(): XML 1.0 text cannot contain U+0001
#: (not even as a character reference), so no parsed value holds it.
_SEPARATOR = "\x01"


def _fingerprint(parsed: ParsedNotification, account: str) -> str:
    # Without an account the fingerprint is the parsed content's, as it always was.
    if not account:
        return parsed.fingerprint
    return hashlib.sha256(f"{account}\n{parsed.fingerprint}".encode()).hexdigest()


def _db_datetime(value: datetime | None) -> datetime | None:
    # With USE_TZ off, Django stores naive local datetimes and refuses aware ones.
    if value is None or settings.USE_TZ:
        return value
    try:
        return timezone.make_naive(value)
    except (OverflowError, ValueError):
        return None
