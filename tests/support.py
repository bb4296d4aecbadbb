"""Helpers the tests import: sample payloads, credentials, small bodies, sessions.

Fixtures are in the ``conftest.py`` at the level that uses them; these are plain
functions and constants, imported as ``from tests.support import payload``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

PAYLOADS = Path(__file__).parent / "payloads"
USERNAME, PASSWORD = "bandwidth", "correct-horse-battery-staple"


def payload(name: str) -> bytes:
    """The bytes of a sample payload, by file name prefix (``"01"``) or full name."""
    matches = sorted(PAYLOADS.glob(f"{name}*.xml"))
    assert len(matches) == 1, f"{name!r} matches {matches}"
    return matches[0].read_bytes()


def basic(username: str = USERNAME, password: str = PASSWORD) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def notification_xml(
    *,
    order_type: str = "orders",
    status: str = "COMPLETE",
    order_id: str = "a8ef295b-fcf4-44a7-945c-0520c8f49123",
    numbers: tuple[str, ...] = ("9195551234",),
    extra: str = "",
) -> bytes:
    """A small order notification in Bandwidth's real-body shape (Status first)."""
    tns = "".join(f"<TelephoneNumber>{n}</TelephoneNumber>" for n in numbers)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f"<Notification><Status>{status}</Status>"
        "<SubscriptionId>d8274fa6-e49b-469a-93bf-c7dd17615950</SubscriptionId>"
        f"<OrderId>{order_id}</OrderId><OrderType>{order_type}</OrderType>"
        f"<CompletedTelephoneNumbers>{tns}</CompletedTelephoneNumbers>{extra}"
        "</Notification>"
    ).encode()


@contextmanager
def other_session() -> Iterator[Any]:
    """Another PostgreSQL session on the test database, inside a transaction: what a
    migration, an operator's psql or another process holding locks looks like."""
    import psycopg

    settings = connection.settings_dict
    with (
        psycopg.connect(
            dbname=settings["NAME"],
            user=settings["USER"],
            host=settings["HOST"],
            port=settings["PORT"],
        ) as other,
        other.transaction(),
    ):
        yield other


on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (run with DB=postgres)"
)


def account_settings(fake: Any, account_id: str, **overrides: Any) -> dict[str, Any]:
    """One BW_NOTIFICATIONS_ACCOUNTS entry pointing at the fake Bandwidth."""
    return {
        "ACCOUNT_ID": account_id,
        "API_BASE_URL": fake.base_url,
        "TOKEN_URL": fake.token_url,
        "API_USERNAME": fake.api_user[0],
        "API_PASSWORD": fake.api_user[1],
        "CALLBACK_URL": "https://example.com/bandwidth/",
        "BASIC_AUTH": [(USERNAME, PASSWORD)],
        "ORDER_TYPES": ["orders", "portins", "disconnects"],
        "EVENT_TYPES": ["MESSAGING_LOST"],
        **overrides,
    }


def settled(timeout: float = 10.0) -> None:
    """Wait until no notification is pending: a live server dispatches after the answer,
    so a client holding its ``200`` may be a moment ahead of the receivers (and of the
    order book's writes)."""
    import time

    from django_bw_notifications.models import Notification, ProcessingState

    deadline = time.monotonic() + timeout
    waiting = Notification.objects.filter(processing_state=ProcessingState.PENDING)
    while waiting.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)  # the dispatch's COMMIT, then its logging
