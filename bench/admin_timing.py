"""Time the notification admin's pages on the data set of ``admin_dataset.py``.

    python bench/admin_timing.py [--runs 7] [--write bench/results/admin-….md]

Each page is requested through Django's test client as a logged-in superuser: one
warm-up, then ``--runs`` timed requests; the table gives the median and the slowest
server time (view, queries and template rendering; no network), and the SQL
statements of one request. Target (issue 3): under 300 ms at 1,000,000 notifications.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.admin_settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from django_bw_notifications.models import Notification, TelephoneNumber  # noqa: E402

TARGET_MS = 300


def scenarios() -> list[tuple[str, str, dict[str, str], bool]]:
    """(name, url, query, in the issue's target list) built from rows in the database."""
    changelist = reverse("admin:bw_notifications_notification_changelist")
    # An order with a timeline of several notifications, from the middle of the table.
    middle = Notification.objects.filter(pk__gte=Notification.objects.count() // 2)
    sample = next(
        n
        for n in middle.exclude(order_id="").order_by("pk")[:1000]
        if Notification.objects.filter(order_id=n.order_id).count() >= 3
    )
    order = {"order_id": sample.order_id}
    number = TelephoneNumber.objects.filter(notification=sample).first()
    customer = middle.exclude(customer_order_id="").first()
    big = Notification.objects.filter(telephone_number_count__gte=5000).first()
    day = sample.received_at
    scenarios = [
        ("list, no filter", changelist, {}, True),
        ("filter: processing failed", changelist, {"processing_state": "failed"}, True),
        ("filter: received more than once", changelist, {"processing_state": "duplicated"}, True),
        ("filter: order type portins", changelist, {"order_type": "portins"}, True),
        ("filter: status FAILED", changelist, {"status": "FAILED"}, True),
        (
            "filter: order type + status",
            changelist,
            {"order_type": "portins", "status": "EXCEPTION"},
            True,
        ),
        ("filter: event type", changelist, {"event_type": "MESSAGING_LOST"}, True),
        ("filter: source reconciled", changelist, {"source": "reconciled"}, True),
        ("filter: subscription id", changelist, {"subscription_id": sample.subscription_id}, True),
        ("date: one year", changelist, {"received_at__year": str(day.year)}, True),
        (
            "date: one month",
            changelist,
            {"received_at__year": str(day.year), "received_at__month": str(day.month)},
            True,
        ),
        (
            "date: one day",
            changelist,
            {
                "received_at__year": str(day.year),
                "received_at__month": str(day.month),
                "received_at__day": str(day.day),
            },
            True,
        ),
        ("search: order id", changelist, {"q": order["order_id"]}, True),
        ("search: customer order id", changelist, {"q": customer.customer_order_id}, True),
        ("search: number, 10 digits", changelist, {"q": number.number}, True),
        ("search: number, E.164", changelist, {"q": number.e164}, True),
        ("search: message text (full scan)", changelist, {"q": "losing carrier"}, False),
        (
            "detail: order notification",
            reverse("admin:bw_notifications_notification_change", args=[sample.pk]),
            {},
            False,
        ),
    ]
    if big is not None:
        scenarios.append(
            (
                "detail: 5,000-number notification",
                reverse("admin:bw_notifications_notification_change", args=[big.pk]),
                {},
                False,
            )
        )
    return scenarios


def _database() -> str:
    if connection.vendor != "postgresql":
        return connection.vendor
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write", type=Path, help="also write the Markdown report here")
    args = parser.parse_args()

    user, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    notifications = Notification.objects.count()
    numbers = TelephoneNumber.objects.count()
    lines = [
        f"# Admin timing: {notifications:,} notifications, {numbers:,} telephone numbers",
        "",
        f"{_database()}, "
        f"Django {django.get_version()}, Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs; {args.runs} timed runs after one warm-up; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| page | median ms | slowest ms | SQL statements | target < 300 ms |",
        "|---|---:|---:|---:|---|",
    ]
    worst = 0.0
    for name, url, query, targeted in scenarios():
        response = client.get(url, query)
        assert response.status_code == 200, (name, response.status_code)
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            response = client.get(url, query)
            times.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            client.get(url, query)
        median = statistics.median(times)
        verdict = ("met" if median < TARGET_MS else "**missed**") if targeted else "(not a target)"
        if targeted:
            worst = max(worst, median)
        lines.append(f"| {name} | {median:.0f} | {max(times):.0f} | {len(queries)} | {verdict} |")
        print(lines[-1], flush=True)
    lines += ["", f"Slowest median among the targeted pages: {worst:.0f} ms."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        args.write.write_text(report)


if __name__ == "__main__":
    main()
