"""Helpers for testing the receivers of a host project.

Build notification XML the way Bandwidth writes it, post it through the real endpoint
with the configured credentials, and see which signals fired::

    from django_bw_notifications.testing import (
        build_order_notification, capture_signals, post_notification,
    )

    def test_port_in_complete_activates_numbers(db):
        body = build_order_notification("portins", "COMPLETE", numbers=["9195551234"])
        with capture_signals() as fired:
            notification = post_notification(body)
        assert fired.names == ["notification_received", "portins", "portins_complete"]

Everything here is public and covered by the package's own tests. The body builders
are :mod:`django_bw_notifications.bandwidth.bodies`'s (``bw_notifications_send`` uses
them too), offered here under their documented names. The pytest fixtures in
:mod:`django_bw_notifications.pytest_plugin` wrap the same functions.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import DisallowedHost
from django.db import DEFAULT_DB_ALIAS
from django.dispatch import Signal
from django.test import Client, TestCase
from django.urls import reverse

from . import signals
from .accounts import endpoint, fingerprint
from .bandwidth.bodies import build_event_notification, build_order_notification, generate_numbers
from .dispatch.receivers import claim_and_dispatch
from .models import Notification, ProcessingState
from .parsing import parse_notification

__all__ = [
    "CapturedSignal",
    "SignalCapture",
    "build_event_notification",
    "build_order_notification",
    "capture_signals",
    "dispatch_inline",
    "generate_numbers",
    "post_notification",
]


def post_notification(
    body: bytes,
    *,
    client: Client | None = None,
    url: str | None = None,
    credentials: tuple[str, str] | None = None,
    dispatch: bool = True,
    using: str = DEFAULT_DB_ALIAS,
    account: str | None = None,
) -> Notification:
    """POST ``body`` to an endpoint like Bandwidth and return the stored Notification.

    ``account``: the ``BW_NOTIFICATIONS_ACCOUNTS`` entry whose endpoint to post to
    (default: the plain endpoint, the ``default`` account's when there is one), with the
    first pair that endpoint accepts unless ``credentials`` is given. With ``dispatch``
    (the default) the receivers run before this returns, whatever
    ``BW_NOTIFICATIONS_DISPATCH`` says and even inside a test's transaction: in task
    mode the queued task is played here, as a worker would (a real worker that gets it
    later finds it done). Raises ``AssertionError`` with the endpoint's reason when the
    answer is not ``200``.
    """
    target = endpoint(account)
    if target is None:
        raise AssertionError(f"no account {account!r} in BW_NOTIFICATIONS_ACCOUNTS")
    client = client or Client()
    url = url or reverse(target.url_name, kwargs=dict(target.url_kwargs))
    headers: dict[str, str] = {}
    pair = credentials or next(iter(target.credentials), None)
    if pair is not None:
        token = base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    with dispatch_inline(using=using) if dispatch else nullcontext():
        response = client.post(url, data=body, content_type="application/xml", headers=headers)
    if response.status_code != 200:
        raise AssertionError(f"the endpoint answered {response.status_code}: {_reason(response)}")
    identity = fingerprint(parse_notification(body), target.account)
    notification = Notification.objects.using(using).get(fingerprint=identity)
    if dispatch and notification.processing_state == ProcessingState.PENDING:
        # Task mode (or a host's queue): play the queued dispatch here, through the same
        # claim a worker uses.
        with dispatch_inline(using=using):
            claim_and_dispatch(notification.pk, notification.attempts, using)
        notification.refresh_from_db(using=using)
    return notification


@contextmanager
def dispatch_inline(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the dispatch scheduled inside the block before it ends, as production would.

    In a test wrapped in a transaction (``TestCase``, pytest-django's ``db``), work
    scheduled "after commit" would otherwise never run.
    """
    with TestCase.captureOnCommitCallbacks(using=using, execute=True):
        yield


@dataclass(frozen=True, slots=True)
class CapturedSignal:
    """One signal sent during :func:`capture_signals`."""

    #: The friendly name (``"portins_complete"``, ``"notification_received"``).
    name: str
    signal: Signal
    notification: Notification
    #: Every keyword argument the receivers got (``notification``, ``replay``, …).
    kwargs: Mapping[str, Any]


@dataclass
class SignalCapture:
    """What :func:`capture_signals` recorded, in firing order."""

    calls: list[CapturedSignal] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """Friendly names of the signals sent, in order."""
        return [call.name for call in self.calls]

    def fired(self, signal: Signal) -> list[CapturedSignal]:
        """The calls of one signal."""
        return [call for call in self.calls if call.signal is signal]


@contextmanager
def capture_signals() -> Iterator[SignalCapture]:
    """Record which of this package's signals fired, with their kwargs.

    Covers every signal of :func:`django_bw_notifications.signals.all_signals` when the
    block starts: ``notification_received``, ``note_added``, every catalogued order type,
    order type + status and event type, and any other asked for by name before.
    """
    capture = SignalCapture()
    receivers = []
    for name, signal in signals.all_signals().items():

        def record(sender: Any, signal: Signal = signal, name: str = name, **kwargs: Any) -> None:
            capture.calls.append(CapturedSignal(name, signal, kwargs["notification"], kwargs))

        signal.connect(record, weak=False)
        receivers.append((signal, record))
    try:
        yield capture
    finally:
        for signal, record in receivers:
            signal.disconnect(record)


def _reason(response: Any) -> str:
    """The endpoint's own short reason, or Django's one line about a host it refused
    (its whole HTML page is no help in a shell)."""
    if response.status_code == 400:
        try:
            response.wsgi_request.get_host()
        except DisallowedHost as refused:
            return f"Django refused the host: {refused}"
    return str(response.content.decode("utf-8", errors="replace").strip())
