"""Time ``reconcile.candidates()`` on the admin data set (``bench/admin_dataset.py``).

Finding the orders to ask Bandwidth about is the only part of
``bw_notifications_reconcile`` that reads the table; this prints how long it takes
for several windows (``--within-days``) and how many orders it finds.

    BENCH_DB_NAME=bw_admin_bench python bench/admin_dataset.py
    BENCH_DB_NAME=bw_admin_bench python bench/reconcile_timing.py
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.admin_settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from django_bw_notifications.bandwidth.reconcile import candidates  # noqa: E402
from django_bw_notifications.models import Notification  # noqa: E402


def main() -> None:
    total = Notification.objects.count()
    print(f"{total:,} notifications in {connection.vendor} {connection.settings_dict['NAME']}")
    print("| window | in window | orders to ask | queries | best of 3, ms |")
    print("|---|---:|---:|---:|---:|")
    for days in (1, 7, 30, 400):
        in_window = Notification.objects.filter(
            received_at__gte=timezone.now() - timedelta(days=days), received_at__lte=timezone.now()
        ).count()
        times = []
        for _ in range(3):
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                found = candidates(None, older_than=timedelta(hours=1), within=timedelta(days=days))
            times.append(time.perf_counter() - started)
        print(
            f"| {days} days | {in_window:,} | {len(found):,} | {len(queries)} "
            f"| {min(times) * 1000:.0f} |"
        )


if __name__ == "__main__":
    main()
