"""Deterministic measures, in-process (run by ``run.py`` with the bench settings).

* SQL statements per notification for our endpoint and the ``raw`` and ``naive``
  anchors, for bodies of 1, 100 and 5,000 numbers (the database in ``BENCH_DB``).
* Parse time of ``parse_notification`` against plain ``xml.etree.ElementTree`` on the
  same bytes: the best of 7 rounds of ``timeit`` (microseconds per body).

Prints one JSON object.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import sys
import timeit
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.server.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from django_bw_notifications.parsing import (  # noqa: E402
    _parse_xml,
    decode_body,
    parse_notification,
)
from django_bw_notifications.testing import build_order_notification, generate_numbers  # noqa: E402

SIZES = (1, 100, 5000)
AUTH = "Basic " + base64.b64encode(b"bandwidth:bench-password-long-enough-1234").decode()


_blocks = itertools.count()


def body(size: int) -> bytes:
    """An order completing ``size`` numbers nobody had before (a block of its own), as a
    real order's: the order book creates their rows."""
    start = 2_000_000_000 + next(_blocks) * 10_000
    return build_order_notification(
        "orders",
        "COMPLETE",
        order_id=str(uuid.uuid4()),
        numbers=generate_numbers(size, start=start),
    )


def statements(client: Client, path: str, size: int) -> int:
    """Statements sent to the database for one request.

    Django logs BEGIN and COMMIT for every atomic block, but with psycopg an atomic
    block that runs no query sends nothing (each receiver runs in one): those empty
    pairs are not counted on PostgreSQL. On SQLite Django sends them itself.
    """
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            path, body(size), content_type="application/xml", HTTP_AUTHORIZATION=AUTH
        )
    assert response.status_code == 200, (path, response.status_code)
    sql = [query["sql"] for query in captured]
    if connection.vendor == "postgresql":
        empty = sum(1 for a, b in itertools.pairwise(sql) if (a, b) == ("BEGIN", "COMMIT"))
        return len(sql) - 2 * empty
    return len(sql)


def parse_times(size: int) -> dict[str, float]:
    data = body(size)
    number = max(3, 20_000 // size)

    def best(fn: object) -> float:
        return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6  # type: ignore[arg-type]

    return {
        "ours": best(lambda: parse_notification(data)),
        # The XML stage alone: decoding and the safe parse, without building the result.
        "ours_xml": best(lambda: _parse_xml(decode_body(data).lstrip())),
        "etree": best(lambda: ET.fromstring(data)),
    }


def main() -> None:
    client = Client()
    paths = {
        "ours": "/ours/",
        "raw": "/raw/",
        "floor": "/floor/",
        "claimed": "/claimed/",
        "rows": "/rows/",
        "naive": "/naive/",
    }
    result = {
        "statements": {
            str(size): {name: statements(client, path, size) for name, path in paths.items()}
            for size in SIZES
        },
        "parse": {str(size): parse_times(size) for size in SIZES},
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
