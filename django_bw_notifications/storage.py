"""Write a delivery to the database: its notification and numbers, or its rejection.

The statements here are the only ones on the request path, so this module also enforces
the time budget in the database (see :func:`bounded`): a lock, a stalled server or a
failover makes a statement fail in time instead of holding the request until the worker
is killed. Whether to spool, answer 503 or go on is the pipeline's decision, not this
module's.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.db.models import BooleanField, F, Field
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .accounts import fingerprint
from .deadlines import severed_at
from .delivery import Delivery
from .models import Notification, RejectedDelivery, TelephoneNumber
from .parsing import ParsedNotification

__all__ = ["BudgetSpent", "StoreResult", "bounded", "record_rejection", "store"]

logger = logging.getLogger(__name__)


class BudgetSpent(DatabaseError):
    """The time budget ran out before (or while) the database was asked."""


@dataclass(frozen=True, slots=True)
class StoreResult:
    """The stored notification and whether this delivery created it."""

    notification: Notification
    #: False when an identical notification was already stored (a duplicate).
    created: bool


@contextlib.contextmanager
def bounded(using: str, deadline: float | None, statements: int = 1) -> Iterator[None]:
    """A transaction on ``using`` whose statements give up before ``deadline``.

    ``deadline`` is a :func:`time.monotonic` instant; each of the ``statements`` that
    follow may take an equal share of the time left. PostgreSQL gets a transaction-local
    ``statement_timeout`` (lock waits included), SQLite a busy timeout for the duration;
    other backends run unbounded (their own timeouts apply). Connecting is bounded by
    the database's ``connect_timeout`` (``check --deploy`` warns without one). Raises
    :class:`BudgetSpent` when no time is left. ``None``: an ordinary transaction.
    """
    if deadline is None:
        with transaction.atomic(using=using):
            yield
        return
    connection = connections[using]
    # Connect first (bounded by connect_timeout): the statements get what is left.
    connection.ensure_connection()
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise BudgetSpent("the time budget was spent before the database was asked")
    share_ms = max(1, int(remaining * 1000 / max(statements, 1)))
    nested = connection.in_atomic_block
    postgresql = connection.vendor == "postgresql"
    # The server bounds each statement; the watchdog bounds the whole conversation,
    # COMMIT included, for a server or network that stops answering altogether.
    watch = (
        severed_at(deadline + _SEVER_GRACE, connection.connection)
        if postgresql
        else contextlib.nullcontext()
    )
    with watch, transaction.atomic(using=using):
        if postgresql:
            with connection.cursor() as cursor:
                # Transaction-local, so gone at COMMIT.
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [f"{share_ms}ms"]
                )
            try:
                yield
            finally:
                if nested:
                    # Inside a caller's transaction it would outlive this block.
                    with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                        cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
        elif connection.vendor == "sqlite" and _sqlite_timeout(connection) > remaining:
            # SQLite waits once, for the write lock, up to its busy timeout: shorten
            # that only when the configured one (Python's default: 5 s) is too long.
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {int(remaining * 1000)}")
            try:
                yield
            finally:
                restore = int(_sqlite_timeout(connection) * 1000)
                with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                    cursor.execute(f"PRAGMA busy_timeout = {restore}")
        else:
            yield


#: Past the deadline, how long the server's own statement_timeout gets to answer before
#: the watchdog severs the connection.
_SEVER_GRACE = 0.25


def _sqlite_timeout(connection: Any) -> float:
    return float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 5.0))


def store(
    parsed: ParsedNotification, delivery: Delivery, *, deadline: float | None = None
) -> StoreResult:
    """Write ``parsed`` and its telephone numbers in one transaction.

    Two statements whatever the number of telephone numbers (the notification's INSERT,
    then one for all its numbers), each bounded by ``deadline`` (see :func:`bounded`).
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
    if parsed.order_id and notification.last_modified_date is not None:
        # Out-of-order delivery: evaluated inside the INSERT and returned with the row,
        # so it costs no statement of its own.
        notification.is_stale = _newer_exists(db, parsed, notification.last_modified_date)
    statements = 2 if parsed.telephone_numbers else 1
    try:
        with bounded(db, deadline, statements):
            notification.save(using=db, force_insert=True)
            if parsed.telephone_numbers:
                _insert_numbers(db, notification.pk, parsed)
        if isinstance(notification.is_stale, RawSQL):
            # A backend without INSERT ... RETURNING leaves the expression in place.
            notification.refresh_from_db(using=db, fields=["is_stale"])
    except IntegrityError:
        existing = _count_duplicate(db, notification.fingerprint, deadline)
        if existing is None:
            raise  # not the fingerprint: a real integrity problem
        return StoreResult(existing, created=False)
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
            )
    except Exception:
        logger.exception(
            "Could not store a rejected delivery (%s %s); its body follows:\n%r",
            status_code,
            reason,
            delivery.body,
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


def _db_datetime(value: datetime | None) -> datetime | None:
    # With USE_TZ off, Django stores naive local datetimes and refuses aware ones.
    if value is None or settings.USE_TZ:
        return value
    try:
        return timezone.make_naive(value)
    except (OverflowError, ValueError):
        return None
