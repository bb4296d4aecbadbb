"""Helpers host projects call directly: the ``on_event`` decorator, an order's timeline
with or without its type, dates typed loosely, the health report (its wording, and as
JSON for scripts), and ``ingest`` when the database will not take a notification."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.utils import timezone

from django_bw_notifications import signals
from django_bw_notifications.intake import storage
from django_bw_notifications.intake.ingest import ingest
from django_bw_notifications.models import Notification, parse_moment
from django_bw_notifications.ops.health import check_health
from django_bw_notifications.parsing import parse_notification
from django_bw_notifications.signals import event_signal, on_event
from tests.support import notification_xml, payload

pytestmark = pytest.mark.django_db


def test_on_event_connects_a_receiver_for_that_event_in_any_case(deliver: Any) -> None:
    got: list[tuple[str, tuple[str, ...]]] = []

    @on_event("messaging_lost", weak=False)
    def lost(sender: Any, notification: Notification, **kwargs: Any) -> None:
        numbers = tuple(notification.telephone_numbers.values_list("e164", flat=True))
        got.append((notification.event_type, numbers))

    try:
        deliver(payload("21"))
        deliver(payload("01"))  # an order: not this receiver's
    finally:
        assert event_signal("MESSAGING_LOST").disconnect(lost)
    assert got == [("MESSAGING_LOST", ("+19192345678", "+19192345679"))]
    assert signals.event_signal("Messaging_Lost") is event_signal("MESSAGING_LOST")


def test_an_orders_timeline_with_and_without_its_type(deliver: Any) -> None:
    first = deliver(notification_xml(order_type="portins", status="SUBMITTED", order_id="x-1"))
    second = deliver(notification_xml(order_type="PortIns", status="FOC", order_id="x-1"))
    other_type = deliver(notification_xml(order_type="orders", status="COMPLETE", order_id="x-1"))
    deliver(notification_xml(order_type="portins", status="FOC", order_id="x-2"))
    assert list(Notification.objects.of_order("x-1")) == [first, second, other_type]
    assert list(Notification.objects.of_order("x-1", "PORTINS")) == [first, second]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-1-5", datetime(2026, 1, 5)),  # without leading zeros: a date, not an ISO one
        ("2026-01-05", datetime(2026, 1, 5)),
        ("2026-01-05 13:30", datetime(2026, 1, 5, 13, 30)),
        ("2026-02-30", None),
        ("yesterday", None),
    ],
)
def test_dates_typed_by_people(typed: str, expected: datetime | None) -> None:
    moment = parse_moment(typed)
    if expected is None:
        assert moment is None
    else:
        assert moment == timezone.make_aware(expected)


@pytest.mark.parametrize(("after", "said"), [(90, "90 s"), (1800, "30 minutes"), (150, "150 s")])
def test_the_health_report_says_how_late_in_plain_units(
    settings: Any, after: int, said: str
) -> None:
    settings.BW_NOTIFICATIONS_STUCK_AFTER = after
    Notification.objects.create(
        order_type="orders",
        fingerprint="late",
        received_at=timezone.now() - timedelta(seconds=after + 60),
    )
    [problem] = [p for p in check_health().problems if "not dispatched" in p]
    assert problem.startswith(f"1 notification(s) not dispatched {said} after arrival")


def test_the_health_report_for_scripts_is_json_and_still_fails(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_STUCK_AFTER = 60
    Notification.objects.create(
        order_type="orders", fingerprint="late", received_at=timezone.now() - timedelta(hours=1)
    )
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 notification\(s\) not dispatched"):
        call_command("bw_notifications_health", "--json", stdout=out)
    report = json.loads(out.getvalue())  # nothing but the JSON on stdout
    assert (report["ok"], report["stuck"], report["failed"]) == (False, 1, 0)


def test_ingest_raises_the_databases_error_and_keeps_nothing(
    monkeypatch: pytest.MonkeyPatch, recorder: Any
) -> None:
    rec = recorder()

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("the database system is starting up")

    monkeypatch.setattr(storage, "store", unavailable)
    parsed = parse_notification(payload("01"))
    with pytest.raises(OperationalError, match="starting up"):
        ingest(parsed)
    assert Notification.objects.count() == 0
    assert rec.calls == []
