"""Shared fixtures: sample payloads, an authenticated poster, a signal recorder."""

from __future__ import annotations

import os
import sysconfig
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

import django_bw_notifications
from django_bw_notifications import signals

from .support import basic, settled

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


@pytest.fixture
def live_server(live_server: Any) -> Iterator[Any]:
    """pytest-django's ``live_server``, whose dispatches after the answer have ended
    before the test's teardown empties the database (they run in the server's thread,
    after the client has its ``200``: the order book's writes take a moment)."""
    yield live_server
    settled()


def _project_receiver(sender: Any, **kwargs: Any) -> None:
    """What a host project's receivers module connects (check W013 looks for one)."""


@pytest.fixture
def project_receiver() -> Iterator[None]:
    """A receiver connected, as in a project that reacts to its notifications: tests
    that expect a clean ``check`` need one (the test project itself connects none)."""
    from django_bw_notifications.signals import notification_received

    notification_received.connect(_project_receiver)
    yield
    notification_received.disconnect(_project_receiver)
