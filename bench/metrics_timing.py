"""Time one Prometheus scrape against the admin benchmark's data set, and count its queries.

    python bench/admin_dataset.py --notifications 1000000
    python bench/metrics_timing.py [--runs 7] [--write bench/results/metrics-YYYYMMDD.md]

The scrape is the collector of ``django_bw_notifications.ops.metrics`` encoded as
Prometheus text, as the metrics view does; the figures are the median and the worst of
``--runs`` scrapes after one warm-up, and the number of SQL queries of one scrape (a
deterministic count: it must not grow with the tables).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.admin_settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from prometheus_client.exposition import generate_latest  # noqa: E402

from django_bw_notifications.models import Notification  # noqa: E402
from django_bw_notifications.ops.metrics import registry  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write", type=Path, help="also write the result as Markdown")
    args = parser.parse_args()
    rows = Notification.objects.count()
    generate_latest(registry())  # warm-up: caches, plans
    with CaptureQueriesContext(connection) as queries:
        body = generate_latest(registry())
    seconds = []
    for _ in range(args.runs):
        started = time.perf_counter()
        generate_latest(registry())
        seconds.append(time.perf_counter() - started)
    samples = sum(1 for line in body.decode().splitlines() if not line.startswith("#"))
    vendor = connection.vendor
    lines = [
        f"# Metrics scrape, {vendor}, {rows:,} notifications",
        "",
        "| measure | value |",
        "|---|---|",
        f"| SQL queries per scrape | {len(queries)} |",
        f"| samples in the answer | {samples} |",
        f"| answer size | {len(body):,} bytes |",
        f"| scrape time, median of {args.runs} | {statistics.median(seconds) * 1000:.0f} ms |",
        f"| scrape time, worst of {args.runs} | {max(seconds) * 1000:.0f} ms |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
