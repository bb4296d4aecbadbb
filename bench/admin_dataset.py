"""Load a large, realistic data set for the admin benchmark (and for trying the admin).

    python bench/admin_dataset.py --notifications 1000000 --numbers-per 3.1

Creates the database if needed, migrates, empties the notification tables and loads
notifications in order timelines (an order gets 1-6 notifications over days), events,
failures, duplicates, and a few 5,000-number orders; each telephone number appears in
about three notifications. PostgreSQL is loaded with COPY (about a minute per million
notifications here); SQLite with ``bulk_create`` in batches. The data is deterministic
(seeded), so two machines load the same rows.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.admin_settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from django_bw_notifications.catalog import ORDER_STATUSES  # noqa: E402
from django_bw_notifications.models import (  # noqa: E402
    DispatchAttempt,
    Notification,
    TelephoneNumber,
)

ORDER_TYPES = [  # (type, weight)
    ("orders", 40),
    ("portins", 20),
    ("disconnects", 15),
    ("e911s", 8),
    ("portouts", 5),
    ("tnoptions", 4),
    ("csrs", 3),
    ("lidbs", 2),
]
SUBSCRIPTIONS = {kind: f"sub-{i:02d}-{kind}" for i, (kind, _) in enumerate(ORDER_TYPES)}
EVENT_SUBSCRIPTION = "sub-99-messaging-lost"
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=690)
NOTIFICATION_COLUMNS = (
    "id",
    "received_at",
    "subscription_id",
    "order_type",
    "order_id",
    "customer_order_id",
    "status",
    "message",
    "note",
    "event_type",
    "last_modified_date",
    "last_modified_date_text",
    "actual_foc_date_text",
    "extra",
    "telephone_number_count",
    "is_stale",
    "raw_body",
    "fingerprint",
    "headers",
    "duplicate_count",
    "last_duplicate_at",
    "processing_state",
    "attempts",
    "last_attempt_at",
    "last_error",
    "account",
    "source",
)
NUMBER_COLUMNS = ("notification_id", "number", "e164", "kind")


def rows(total: int, numbers_per: int, seed: int) -> Iterator[tuple[tuple, list[tuple]]]:
    """Yield (notification row, its number rows), ``total`` notifications in all."""
    rng = random.Random(seed)
    pool = max(1, int(total * numbers_per / 3))  # each number in ~3 notifications
    types, weights = zip(*ORDER_TYPES, strict=True)
    pk = 0
    while pk < total:
        event = rng.random() < 0.05
        steps = 1 if event else rng.randint(1, 6)
        big = not event and rng.random() < 0.00002
        count = 5000 if big else max(1, int(rng.expovariate(1 / numbers_per)))
        first = rng.randrange(pool)
        numbers = [f"919{(first + k * 7919) % pool:07d}" for k in range(count)]
        order_type = "" if event else rng.choices(types, weights)[0]
        order_id = "" if event else f"{rng.getrandbits(128):032x}"
        customer = "" if event or rng.random() < 0.3 else f"crm-{pk:09d}"
        moment = START + timedelta(seconds=rng.random() * SPAN.total_seconds())
        statuses = ORDER_STATUSES.get(order_type, ("",))
        for step in range(min(steps, total - pk)):
            pk += 1
            moment += timedelta(minutes=rng.randint(5, 4000))
            status = (
                ""
                if event
                else statuses[
                    min(step, len(statuses) - 1)
                    if step < steps - 1
                    else rng.randrange(len(statuses))
                ]
            )
            failed = rng.random() < 0.02
            pending = not failed and rng.random() < 0.005
            duplicates = 1 if rng.random() < 0.005 else 0
            message = (
                ""
                if event
                else rng.choice(
                    [
                        "",
                        f"Order {status.lower()}",
                        "Port request submitted to losing carrier",
                        "Telephone number 919 is invalid",
                        "Activation delayed: <carrier> maintenance",
                    ]
                )
            )
            kind = "impacted" if event else "completed"
            body = _body(order_type, order_id, status, message, numbers[:3], event)
            yield (
                (
                    pk,
                    moment,
                    EVENT_SUBSCRIPTION if event else SUBSCRIPTIONS[order_type],
                    order_type,
                    order_id,
                    customer,
                    status,
                    message,
                    "",
                    "MESSAGING_LOST" if event else "",
                    moment,
                    moment.isoformat(),
                    "",
                    "{}",
                    len(numbers),
                    False,
                    body,
                    hashlib.sha256(f"{seed}:{pk}".encode()).hexdigest(),
                    '{"Content-Type": "application/xml"}',
                    duplicates,
                    moment + timedelta(seconds=2) if duplicates else None,
                    "failed" if failed else "pending" if pending else "processed",
                    0 if pending else 1,
                    None if pending else moment,
                    "receivers.crm: TimeoutError: CRM did not answer" if failed else "",
                ),
                [(pk, n, "+1" + n, kind) for n in numbers],
            )


def _body(order_type, order_id, status, message, numbers, event) -> str:
    tns = "".join(f"<TelephoneNumber>{n}</TelephoneNumber>" for n in numbers)
    if event:
        return (
            "<Notification><EventType>MESSAGING_LOST</EventType>"
            f"<ImpactedTelephoneNumbers>{tns}</ImpactedTelephoneNumbers></Notification>"
        )
    message = message.replace("<", "&lt;").replace(">", "&gt;")
    return (
        f"<Notification><OrderType>{order_type}</OrderType><OrderId>{order_id}</OrderId>"
        f"<Status>{status}</Status><Message>{message}</Message>"
        f"<CompletedTelephoneNumbers>{tns}</CompletedTelephoneNumbers></Notification>"
    )


def _copy(table: str, columns: tuple[str, ...], batch: list[tuple]) -> None:
    with connection.cursor() as cursor:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in batch:
                copy.write_row(row)


def _bulk(batch_n: list[tuple], batch_t: list[tuple]) -> None:
    Notification.objects.bulk_create(
        [Notification(**dict(zip(NOTIFICATION_COLUMNS, row, strict=True))) for row in batch_n],
        batch_size=500,
    )
    TelephoneNumber.objects.bulk_create(
        [TelephoneNumber(**dict(zip(NUMBER_COLUMNS, row, strict=True))) for row in batch_t],
        batch_size=2000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=1_000_000)
    parser.add_argument("--numbers-per", type=float, default=3.1)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()

    _create_database()
    call_command("migrate", verbosity=0)
    postgres = connection.vendor == "postgresql"
    started = time.perf_counter()
    with transaction.atomic():
        Notification.objects.all().delete() if not postgres else _truncate()
        batch_n: list[tuple] = []
        batch_t: list[tuple] = []
        numbers_total = 0
        for notification, numbers in rows(args.notifications, args.numbers_per, args.seed):
            if not postgres:  # bulk_create wants JSON values, not JSON text
                notification = (
                    *notification[:13],
                    {},
                    *notification[14:18],
                    {"Content-Type": "application/xml"},
                    *notification[19:],
                )
            # One in a thousand recovered by reconciliation, as a filter's rare value.
            source = "reconciled" if notification[0] % 1000 == 0 else "delivery"
            batch_n.append((*notification, "", source))
            batch_t.extend(numbers)
            if len(batch_n) >= 20_000:
                numbers_total += _flush(postgres, batch_n, batch_t)
        numbers_total += _flush(postgres, batch_n, batch_t)
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
                    [Notification._meta.db_table, args.notifications],
                )
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"loaded {args.notifications:,} notifications and {numbers_total:,} telephone numbers "
        f"into {connection.vendor} {connection.settings_dict['NAME']} "
        f"in {time.perf_counter() - started:.0f} s"
    )


def _flush(postgres: bool, batch_n: list[tuple], batch_t: list[tuple]) -> int:
    if postgres:
        _copy(Notification._meta.db_table, NOTIFICATION_COLUMNS, batch_n)
        _copy(TelephoneNumber._meta.db_table, NUMBER_COLUMNS, batch_t)
    else:
        _bulk(batch_n, batch_t)
    count = len(batch_t)
    batch_n.clear()
    batch_t.clear()
    return count


def _truncate() -> None:
    with connection.cursor() as cursor:
        # Every table that points at the notifications goes with them.
        cursor.execute(
            f"TRUNCATE {TelephoneNumber._meta.db_table}, {DispatchAttempt._meta.db_table}, "
            f"{Notification._meta.db_table} RESTART IDENTITY"
        )


def _create_database() -> None:
    settings_dict = connection.settings_dict
    if connection.vendor != "postgresql":
        return
    import psycopg

    name = settings_dict["NAME"]
    with psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        dbname="postgres",
        autocommit=True,
    ) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    main()
