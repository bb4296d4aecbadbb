"""Notification bodies written as Bandwidth writes them.

The one body builder of the package: the test helpers
(:mod:`django_bw_notifications.testing`) hand it to host projects' tests, and
``bw_notifications_send`` posts what it builds to a real endpoint. Pure: no Django.
The shape follows Bandwidth's real bodies (``Status`` first, an XML declaration with
``standalone="yes"``, four-space indentation); values are XML-escaped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal
from xml.sax.saxutils import escape

from .. import catalog

__all__ = ["build_event_notification", "build_order_notification", "generate_numbers"]

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
