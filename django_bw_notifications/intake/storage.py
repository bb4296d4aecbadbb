"""Write a delivery to the database: its notification and numbers, or its rejection.

The statements here are the only ones on the request path, each bounded by the time
budget (:func:`django_bw_notifications.database.budget.bounded`). Whether to spool,
answer 503 or go on is the pipeline's decision, not this module's.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import (
    IntegrityError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.db.models import F, Field
from django.db.models.signals import post_save
from django.utils import timezone

from ..accounts import fingerprint
from ..database.budget import SEVER_GRACE, bounded, shares
from ..database.deadlines import Watch, severed_at
from ..database.roundtrips import several_statements_per_message
from ..models import Notification, RejectedDelivery, TelephoneNumber
from ..parsing import ParsedNotification
from .delivery import Delivery

__all__ = ["StoreResult", "record_rejection", "store"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoreResult:
    """The stored notification and whether this delivery created it."""

    notification: Notification
    #: False when an identical notification was already stored (a duplicate).
    created: bool


def store(
    parsed: ParsedNotification, delivery: Delivery, *, deadline: float | None = None
) -> StoreResult:
    """Write ``parsed`` and its telephone numbers in one transaction.

    On PostgreSQL (psycopg 3, outside a caller's transaction): one round trip to the
    server whatever the number of telephone numbers, the time budget's
    ``statement_timeout`` and one statement that inserts the notification and all its
    numbers, committed as one implicit transaction (:func:`_insert_in_one_message`).
    Elsewhere two statements in a transaction (the notification's INSERT, then one for
    all its numbers). Either way bounded by ``deadline`` (see
    :func:`~django_bw_notifications.database.budget.bounded`).
    A duplicate (same fingerprint) is recognised through the unique index, so
    concurrent copies cannot both be created; the existing row's ``duplicate_count`` is
    incremented instead. The account is part of the identity (``accounts.fingerprint``).
    A new row is ``pending``: the scheduler dispatches it, the sweeper finds it if not.
    """
    db = router.db_for_write(Notification)
    notification = Notification(
        received_at=_db_datetime(delivery.received_at) or timezone.now(),
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
        fingerprint=fingerprint(parsed, delivery.account),
        account=delivery.account,
        source=delivery.source,
        remote_addr=delivery.remote_addr,
        headers=dict(delivery.headers),
    )
    stale = None
    if parsed.order_id and notification.last_modified_date is not None:
        # Out-of-order delivery: evaluated inside the INSERT and returned with the row,
        # so it costs no statement of its own.
        stale = _newer_exists(db, parsed, notification.last_modified_date)
    try:
        if _in_one_message(db):
            _insert_in_one_message(db, notification, stale, parsed, deadline)
        else:
            # Made before the transaction: on SQLite its write lock is held from BEGIN.
            insert = _insert_sql(connections[db], notification, stale)
            with bounded(db, deadline, statements=2 if parsed.telephone_numbers else 1):
                _insert(db, notification, *insert)
                if parsed.telephone_numbers:
                    _insert_numbers(db, notification.pk, parsed)
    except IntegrityError:
        existing = _count_duplicate(db, notification.fingerprint, deadline)
        if existing is None:
            raise  # not the fingerprint: a real integrity problem
        return StoreResult(existing, created=False)
    notification._state.adding = False
    notification._state.db = db
    # The numbers just written, for the first dispatch in this process: the order book
    # reads them from here instead of selecting them again (state.book.numbers_of).
    notification.stored_numbers = parsed.telephone_numbers
    if post_save.has_listeners(Notification):
        # The row is written without Model.save() (see _insert); a host's post_save
        # receivers are still told, once it is committed.
        post_save.send(
            sender=Notification,
            instance=notification,
            created=True,
            update_fields=None,
            raw=False,
            using=db,
        )
    return StoreResult(notification, created=True)


def _count_duplicate(db: str, fingerprint: str, deadline: float | None) -> Notification | None:
    """Count one more copy of the stored notification and return it (None: no such row).

    A dispatch in flight holds the row's lock for as long as its receivers take. A copy
    waits for it only its share of the time budget (copies arriving together wait for
    each other a few milliseconds, and are all counted); past that it is answered as
    stored without being counted, rather than spooled or refused although it is stored.
    """
    rows = Notification.objects.using(db).filter(fingerprint=fingerprint)
    with bounded(db, deadline, statements=3):
        try:
            with transaction.atomic(using=db):  # a savepoint: a timeout stays in it
                updated = rows.update(
                    duplicate_count=F("duplicate_count") + 1, last_duplicate_at=timezone.now()
                )
        except OperationalError:
            if deadline is not None and time.monotonic() >= deadline:
                raise  # the watchdog severed the connection: nothing more to ask it
            existing = rows.first()
            if existing is not None:
                logger.info(
                    "A copy of notification %s arrived while it was being dispatched; "
                    "stored already, not counted",
                    existing.pk,
                )
            return existing
        if not updated:
            return None
        return rows.get()


def record_rejection(
    delivery: Delivery,
    *,
    status_code: int,
    reason: str,
    body_size: int | None = None,
    deadline: float | None = None,
) -> RejectedDelivery | None:
    """Keep a refused authenticated delivery for audit; None if it could not be stored.

    Never raises: the sender gets its 4xx whatever happens here, and a rejection that
    cannot be stored is logged at ERROR with its body, the last place it survives.
    ``body_size`` defaults to the body's length (a too-large body is not read whole).
    """
    try:
        with bounded(router.db_for_write(RejectedDelivery), deadline):
            return RejectedDelivery.objects.create(
                status_code=status_code,
                reason=reason,
                body=delivery.body,
                body_size=len(delivery.body) if body_size is None else body_size,
                content_type=delivery.content_type[:255],
                remote_addr=delivery.remote_addr,
                headers=dict(delivery.headers),
                received_at=_db_datetime(delivery.received_at) or timezone.now(),
                account=delivery.account,
            )
    except Exception:
        logger.exception(
            "Could not store a rejected delivery (%s %s); its body follows:\n%r",
            status_code,
            reason,
            delivery.body,
        )
        return None


def _newer_exists(
    db: str, parsed: ParsedNotification, last_modified: datetime
) -> tuple[str, tuple[Any, ...]]:
    """``EXISTS`` a notification of the same order with a later ``LastModifiedDate``:
    SQL and its parameters, for the INSERT's ``is_stale``.

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
    return sql, (parsed.order_id, parsed.order_type, when)


_STALE_COLUMNS = ("order_id", "order_type", "last_modified_date")


def _in_one_message(db: str) -> bool:
    """True where the whole store can go to the server as one message (see
    :mod:`roundtrips`), and not inside a caller's transaction: the message commits as
    its own implicit transaction."""
    connection = connections[db]
    return not connection.in_atomic_block and several_statements_per_message(connection)


def _insert_in_one_message(
    db: str,
    notification: Notification,
    stale: tuple[str, tuple[Any, ...]] | None,
    parsed: ParsedNotification,
    deadline: float | None,
) -> None:
    """The notification and its numbers in one round trip and one implicit transaction.

    A request that waits for five round trips (``BEGIN``, the budget, two INSERT statements,
    ``COMMIT``) pays for five context switches on a busy server; this pays for one.
    The server commits the message as a whole once its last statement has run (an
    error in any of them rolls all back), and answers only after the commit.
    """
    connection = connections[db]
    insert, params = _insert_sql(connection, notification, stale)
    numbers = parsed.telephone_numbers
    if numbers:
        # The numbers' INSERT reads the new row's id from the first one's RETURNING.
        numbers_sql, numbers_params = _numbers_sql(connection, "n.id", "n, ", [], parsed)
        sql = f"WITH n AS ({insert}), t AS ({numbers_sql}) SELECT * FROM n"  # noqa: S608
        params = [*params, *numbers_params]
    else:
        sql = insert
    if deadline is None:
        watch: contextlib.AbstractContextManager[Watch | None] = contextlib.nullcontext()
        budget = ""
    else:
        # A share per table written, as the two statements elsewhere get: a lock may
        # take at most that, the rest is left for spooling.
        _remaining, share_ms = shares(connection, deadline, 2 if numbers else 1)
        budget = "SELECT set_config('statement_timeout', %s, true); "
        params = [f"{share_ms}ms", *params]
        watch = severed_at(deadline + SEVER_GRACE, connection.connection)
    with watch, connection.cursor() as cursor:
        cursor.execute(budget + sql, params)
        if budget:
            cursor.nextset()  # past set_config's result, to the INSERT's
        notification.pk, notification.is_stale = cursor.fetchone()


def _insert(db: str, notification: Notification, sql: str, params: list[Any]) -> None:
    """Run :func:`_insert_sql`'s INSERT (in the caller's transaction), setting the
    notification's ``pk`` and ``is_stale`` from what the database returns."""
    connection = connections[db]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if connection.features.can_return_columns_from_insert:
            notification.pk, notification.is_stale = cursor.fetchone()
            return
        notification.pk = connection.ops.last_insert_id(
            cursor, Notification._meta.db_table, str(Notification._meta.pk.column)
        )
    notification.refresh_from_db(using=db, fields=["is_stale"])


def _insert_sql(
    connection: Any, notification: Notification, stale: tuple[str, tuple[Any, ...]] | None
) -> tuple[str, list[Any]]:
    """The notification's INSERT, its values prepared by each field as ``save()`` would.

    Written from the model's metadata rather than through ``Model.save()``: on the
    request path the ORM's machinery for one wide row costs more Python than the
    database spends storing it. ``is_stale`` is the ``EXISTS`` of ``stale`` (false,
    its database default, without one).
    """
    head, tail, fields = _insert_template(connection.alias)
    params = [
        field.get_db_prep_save(field.pre_save(notification, True), connection) for field in fields
    ]
    if stale is None:
        return f"{head}%s{tail}", [*params, False]
    return f"{head}{stale[0]}{tail}", [*params, *stale[1]]


@functools.lru_cache(maxsize=8)
def _insert_template(alias: str) -> tuple[str, str, tuple[Field[Any, Any], ...]]:
    """The INSERT's text around ``is_stale``'s value (the last column), and the fields
    whose values come before it: the same for every notification, so made once."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    opts = Notification._meta
    stale = opts.get_field("is_stale")
    fields = tuple(
        field for field in opts.local_concrete_fields if field is not opts.pk and field is not stale
    )
    columns = ", ".join(quote(str(field.column)) for field in (*fields, stale))
    head = f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES ({'%s, ' * len(fields)}"  # noqa: S608
    tail = ")"
    if connection.features.can_return_columns_from_insert:
        tail += f" RETURNING {quote(str(opts.pk.column))}, {quote(str(stale.column))}"
    return head, tail, fields


def _insert_numbers(db: str, notification_id: int, parsed: ParsedNotification) -> None:
    """All the numbers of one notification in one statement, without model instances.

    On PostgreSQL the columns go as three arrays through ``UNNEST``; elsewhere one
    parametrised INSERT runs for every row through ``executemany`` (SQLite's module
    loops in C; MySQL's drivers batch it). A model instance per number would cost more
    than the INSERT itself at 5,000 numbers.
    """
    connection = connections[db]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql, params = _numbers_sql(connection, "%s", "", [notification_id], parsed)
            cursor.execute(sql, params)
        else:
            cursor.executemany(
                _numbers_insert(connection) + "VALUES (%s, %s, %s, %s)",
                [(notification_id, *number) for number in parsed.telephone_numbers],
            )


def _numbers_insert(connection: Any) -> str:
    quote = connection.ops.quote_name
    columns = {f.name: quote(str(f.column)) for f in TelephoneNumber._meta.concrete_fields}
    return (
        f"INSERT INTO {quote(TelephoneNumber._meta.db_table)} "
        f"({columns['notification']}, {columns['number']}, {columns['e164']}, {columns['kind']}) "
    )


def _numbers_sql(
    connection: Any,
    notification_id: str,
    tables: str,
    params: list[Any],
    parsed: ParsedNotification,
) -> tuple[str, list[Any]]:
    """PostgreSQL: ``INSERT … SELECT <notification_id>, u.* FROM <tables> UNNEST(…) AS u``
    and its parameters (``params`` first): the numbers' three columns as three arrays."""
    numbers = parsed.telephone_numbers
    columns_text = [_SEPARATOR.join(column) for column in zip(*numbers, strict=True)]
    # Three strings split by the server: adapting three lists of 5,000 strings costs
    # psycopg about 15 ms, joining them well under one. Not for a single number:
    # string_to_array('') is an empty array, not one empty string.
    if len(numbers) > 1 and all(
        text.count(_SEPARATOR) == len(numbers) - 1 for text in columns_text
    ):
        params = [*params, *(p for text in columns_text for p in (text, _SEPARATOR))]
        arrays = _SPLIT
    else:
        params = [*params, *(list(column) for column in zip(*numbers, strict=True))]
        arrays = _CAST
    # Quoted names from the model's metadata; every value is a parameter.
    insert = _numbers_insert(connection)
    sql = f"{insert}SELECT {notification_id}, u.* FROM {tables}UNNEST({arrays}) AS u"  # noqa: S608
    return sql, params


_SPLIT = "string_to_array(%s, %s), string_to_array(%s, %s), string_to_array(%s, %s)"
_CAST = "%s::varchar[], %s::varchar[], %s::varchar[]"


#: Joins a column of numbers for string_to_array(): XML 1.0 text cannot contain U+0001
#: (not even as a character reference), so no parsed value holds it.
_SEPARATOR = "\x01"


def _db_datetime(value: datetime | None) -> datetime | None:
    # With USE_TZ off, Django stores naive local datetimes and refuses aware ones.
    if value is None or settings.USE_TZ:
        return value
    try:
        return timezone.make_naive(value)
    except (OverflowError, ValueError):
        return None
