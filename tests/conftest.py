"""Shared fixtures: sample payloads, an authenticated poster, a signal recorder."""

from __future__ import annotations

import base64
import os
import sysconfig
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

import django_bw_notifications
from django_bw_notifications import signals

PAYLOADS = Path(__file__).parent / "payloads"
USERNAME, PASSWORD = "bandwidth", "correct-horse-battery-staple"
PACKAGE = Path(django_bw_notifications.__file__).resolve().parent


def pytest_report_header() -> str:
    return f"django_bw_notifications: {PACKAGE}"


def pytest_configure() -> None:
    """With ``BW_TEST_INSTALLED_PACKAGE=1`` the suite must test the installed package.

    tests/installed_tree.py (how tox runs the suites) sets it and runs pytest from a copy
    of the test tree without the package, so only site-packages can provide it; this
    makes a regression (a source tree back on ``sys.path``) fail the run.
    """
    if not os.environ.get("BW_TEST_INSTALLED_PACKAGE"):
        return
    site_packages = Path(sysconfig.get_path("purelib")).resolve()
    if not PACKAGE.is_relative_to(site_packages):
        raise pytest.UsageError(
            f"BW_TEST_INSTALLED_PACKAGE is set, but django_bw_notifications was imported "
            f"from {PACKAGE}, not from {site_packages}"
        )


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


@pytest.fixture
def url() -> str:
    return reverse("bw_notifications:webhook")


@pytest.fixture
def post(client: Client, url: str) -> Callable[..., Any]:
    """POST a body to the endpoint with valid credentials (override with auth=...)."""

    def _post(
        body: bytes,
        *,
        auth: str | None = basic(),
        content_type: str = "application/xml; charset=utf-8",
        **extra: Any,
    ) -> Any:
        if auth is not None:
            extra["HTTP_AUTHORIZATION"] = auth
        return client.post(url, data=body, content_type=content_type, **extra)

    return _post


@pytest.fixture
def deliver(
    post: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> Callable[..., Any]:
    """Post a body through the endpoint, run its dispatch, return the stored row."""
    from django_bw_notifications.models import Notification

    def _deliver(body: bytes) -> Notification:
        with django_capture_on_commit_callbacks(execute=True):
            assert post(body).status_code == 200
        return Notification.objects.latest("id")

    return _deliver


@dataclass
class Recorder:
    """Every (signal, kwargs) a connected signal delivered, thread-safe."""

    calls: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, signal: Any, **kwargs: Any) -> None:
        with self.lock:
            self.calls.append((signal, kwargs))

    def fired(self, signal: Any) -> list[dict[str, Any]]:
        return [kwargs for sent, kwargs in self.calls if sent is signal]


@pytest.fixture
def recorder() -> Iterator[Callable[..., Recorder]]:
    """Connect a Recorder to the given signals; disconnected after the test."""
    connected: list[tuple[Any, Recorder]] = []

    def _connect(*wanted: Any) -> Recorder:
        rec = Recorder()
        for signal in wanted or (signals.notification_received,):
            signal.connect(rec, weak=False)
            connected.append((signal, rec))
        return rec

    yield _connect
    for signal, rec in connected:
        signal.disconnect(rec)


@pytest.fixture
def connect() -> Iterator[Callable[..., None]]:
    """Connect a receiver function to a signal for one test only."""
    connected: list[tuple[Any, Any]] = []

    def _connect(signal: Any, receiver: Any) -> None:
        signal.connect(receiver, weak=False)
        connected.append((signal, receiver))

    yield _connect
    for signal, receiver in connected:
        signal.disconnect(receiver)


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


@pytest.fixture
def fake_bandwidth(settings: Any) -> Iterator[Any]:
    """A running fake Bandwidth (tests/fake_bandwidth.py) with account ``9900001``
    configured as the ``default`` account of ``BW_NOTIFICATIONS_ACCOUNTS``."""
    from tests.fake_bandwidth import FakeBandwidth

    fake = FakeBandwidth().start()
    fake.subscriptions["9900001"] = {}
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake, "9900001"),
    }
    settings.BW_NOTIFICATIONS_API_BACKOFF = 0.01
    settings.BW_NOTIFICATIONS_API_TIMEOUT = 2
    yield fake
    fake.stop()


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
