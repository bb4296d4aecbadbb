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

Everything here is public and covered by the package's own tests. The pytest fixtures in
:mod:`django_bw_notifications.pytest_plugin` wrap the same functions.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from xml.sax.saxutils import escape

from django.db import DEFAULT_DB_ALIAS
from django.dispatch import Signal
from django.test import Client, TestCase
from django.urls import reverse

from . import catalog, signals
from .accounts import endpoint, fingerprint
from .dispatch import claim_and_dispatch
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

#: Order types whose notifications list telephone numbers (Bandwidth's documented template).
_TYPES_WITH_NUMBERS = frozenset({"portins", "portouts", "orders", "disconnects"})

_DEFAULT_MESSAGES: Mapping[tuple[str, str], str] = {
    ("orders", "COMPLETE"): "Created a new number order for {count} number(s)",
    ("orders", "PARTIAL"): "Created a new number order for {count} number(s); some failed",
    ("orders", "FAILED"): "5005: The telephone number is unavailable for ordering",
    ("disconnects", "COMPLETE"): "Disconnect order complete",
    ("csrs", "COMPLETE"): "The CSR request is complete.",
    ("csrs", "FAILED"): "The CSR request has failed.",
}


def generate_numbers(
    count: int, *, start: int = 9195550100, number_format: Literal["legacy", "e164"] = "legacy"
) -> list[str]:
    """``count`` consecutive NANP numbers: ``9195550100`` (legacy) or ``+19195550100``."""
    prefix = "+1" if number_format == "e164" else ""
    return [f"{prefix}{start + offset}" for offset in range(count)]


def build_order_notification(
    order_type: str = "orders",
    status: str = "COMPLETE",
    *,
    order_id: str | None = None,
    customer_order_id: str = "",
    subscription_id: str | None = None,
    message: str | None = None,
    note: str = "",
    numbers: Iterable[str] | None = None,
    number_format: Literal["legacy", "e164"] = "legacy",
    last_modified_date: datetime | str | None = "now",
    actual_foc_date: datetime | str | None = None,
    extra_elements: Mapping[str, str] | None = None,
) -> bytes:
    """The XML body of an order notification, shaped like Bandwidth's real ones.

    Defaults are realistic: a random UUID order id and subscription id, a message where
    Bandwidth sends one for that type and status, one telephone number for order types
    that list numbers (``numbers=[]`` for none), ``LastModifiedDate`` now (``None`` to
    leave it out). Values are XML-escaped; ``extra_elements`` adds elements verbatim by
    name (as text).
    """
    if numbers is None:
        listed = catalog.normalise_name(order_type) in _TYPES_WITH_NUMBERS
        number_list = generate_numbers(1, number_format=number_format) if listed else []
    else:
        number_list = list(numbers)
    if message is None:
        template = _DEFAULT_MESSAGES.get((order_type, status.upper()), "")
        message = template.format(count=len(number_list))
    elements: list[tuple[str, str]] = [
        ("Status", status),
        ("SubscriptionId", subscription_id or str(uuid.uuid4())),
        ("Message", message),
        ("OrderId", str(uuid.uuid4()) if order_id is None else order_id),
        ("OrderType", order_type),
        ("CustomerOrderId", customer_order_id),
        ("Note", note),
        ("LastModifiedDate", _date_text(last_modified_date)),
        ("ActualFocDate", _date_text(actual_foc_date)),
        *(extra_elements or {}).items(),
    ]
    return _document(elements, "CompletedTelephoneNumbers", number_list)


def build_event_notification(
    event_type: str = "MESSAGING_LOST",
    *,
    numbers: Iterable[str] | None = None,
    subscription_id: str | None = None,
    number_format: Literal["legacy", "e164"] = "legacy",
    list_name: Literal[
        "ImpactedTelephoneNumbers", "CompletedTelephoneNumbers"
    ] = "ImpactedTelephoneNumbers",
    extra_elements: Mapping[str, str] | None = None,
) -> bytes:
    """The XML body of an event notification (numbers default to one generated number).

    ``list_name="CompletedTelephoneNumbers"`` builds the older documented form.
    """
    number_list = list(
        generate_numbers(1, number_format=number_format) if numbers is None else numbers
    )
    elements = [
        ("SubscriptionId", subscription_id or str(uuid.uuid4())),
        ("EventType", event_type),
        *(extra_elements or {}).items(),
    ]
    return _document(elements, list_name, number_list)


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
        reason = response.content.decode("utf-8", errors="replace").strip()
        raise AssertionError(f"the endpoint answered {response.status_code}: {reason}")
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


def _date_text(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if value == "now":
        value = datetime.now(UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value


def _document(elements: Sequence[tuple[str, str]], list_name: str, numbers: list[str]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', "<Notification>"]
    lines += [f"    <{name}>{escape(value)}</{name}>" for name, value in elements if value]
    if numbers:
        lines.append(f"    <{list_name}>")
        lines += [f"        <TelephoneNumber>{escape(n)}</TelephoneNumber>" for n in numbers]
        lines.append(f"    </{list_name}>")
    lines.append("</Notification>")
    return ("\n".join(lines) + "\n").encode("utf-8")
