"""The public test helpers and the pytest plugin's fixtures do what they document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from django_bw_notifications import signals
from django_bw_notifications.models import Notification, ProcessingState
from django_bw_notifications.parsing import parse_notification
from django_bw_notifications.testing import (
    build_event_notification,
    build_order_notification,
    capture_signals,
    dispatch_inline,
    generate_numbers,
    post_notification,
)

pytestmark = pytest.mark.django_db


def test_order_builder_writes_what_it_is_given() -> None:
    body = build_order_notification(
        "portins",
        "FOC",
        order_id="order-1",
        customer_order_id="cust <1> & co",
        numbers=["9195551234", "+19195551235"],
        last_modified_date=datetime(2024, 2, 22, 20, 40, 47, 539000, tzinfo=UTC),
        actual_foc_date="2024-03-01T00:00:00Z",
        note="LOA received",
        extra_elements={"PortType": "AUTOMATED"},
    )
    parsed = parse_notification(body)
    assert (parsed.order_type, parsed.status, parsed.order_id) == ("portins", "FOC", "order-1")
    assert parsed.customer_order_id == "cust <1> & co"
    assert [tn.e164 for tn in parsed.telephone_numbers] == ["+19195551234", "+19195551235"]
    assert parsed.last_modified_date_text == "2024-02-22T20:40:47.539Z"
    assert parsed.actual_foc_date == datetime(2024, 3, 1, tzinfo=UTC)
    assert parsed.note == "LOA received"
    assert parsed.extra == {"PortType": "AUTOMATED"}


def test_order_builder_defaults_are_realistic() -> None:
    orders = parse_notification(build_order_notification("orders", "FAILED"))
    assert orders.message.startswith("5005: ")
    assert len(orders.telephone_numbers) == 1
    assert len(orders.order_id) == 36  # a UUID
    assert orders.last_modified_date is not None
    csrs = parse_notification(build_order_notification("csrs", "COMPLETE", last_modified_date=None))
    assert csrs.telephone_numbers == ()
    assert csrs.last_modified_date_text == ""
    assert csrs.message == "The CSR request is complete."


def test_two_builds_are_two_notifications() -> None:
    assert build_order_notification() != build_order_notification()


def test_event_builder_in_both_list_forms() -> None:
    impacted = parse_notification(build_event_notification(numbers=["9192345678"]))
    assert impacted.kind == "event"
    assert [(tn.number, tn.kind) for tn in impacted.telephone_numbers] == [
        ("9192345678", "impacted")
    ]
    completed = parse_notification(
        build_event_notification(list_name="CompletedTelephoneNumbers", number_format="e164")
    )
    assert [(tn.number, tn.kind) for tn in completed.telephone_numbers] == [
        ("+19195550100", "completed")
    ]


def test_generate_numbers_in_either_format() -> None:
    assert generate_numbers(3) == ["9195550100", "9195550101", "9195550102"]
    assert generate_numbers(1, start=2223331000, number_format="e164") == ["+12223331000"]


def test_post_notification_stores_dispatches_and_returns_the_row() -> None:
    with capture_signals() as fired:
        notification = post_notification(
            build_order_notification("portins", "COMPLETE", order_id="p-1")
        )
    assert isinstance(notification, Notification)
    assert notification.order_id == "p-1"
    assert notification.processing_state == ProcessingState.PROCESSED
    # Then the order book's: a new order, its number in service.
    assert fired.names == [
        "notification_received",
        "portins",
        "portins_complete",
        "order_changed",
        "number_changed",
    ]
    assert fired.fired(signals.portins_complete)[0].notification == notification


def test_capture_without_the_order_book_has_no_state_signals(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_KEEP_STATE = False
    with capture_signals() as fired:
        post_notification(build_order_notification("portins", "COMPLETE", order_id="p-3"))
    assert fired.names == ["notification_received", "portins", "portins_complete"]


def test_capture_includes_the_state_signals() -> None:
    with capture_signals() as fired:
        post_notification(build_order_notification("portins", "COMPLETE", order_id="p-2"))
    # The order's state follows its notification's signals: a new order, one number in
    # service.
    assert fired.names == [
        "notification_received",
        "portins",
        "portins_complete",
        "order_changed",
        "number_changed",
    ]
    [changed] = fired.fired(signals.order_changed)
    assert changed.kwargs["order"].status == "COMPLETE"
    assert changed.kwargs["previous_status"] == ""
    assert fired.calls[0].kwargs["replay"] is False


def test_post_notification_without_dispatch_leaves_it_pending() -> None:
    notification = post_notification(build_order_notification(), dispatch=False)
    assert notification.processing_state == ProcessingState.PENDING


def test_post_notification_reports_the_endpoints_reason() -> None:
    with pytest.raises(
        AssertionError, match="the endpoint answered 400: the root element is <Order>"
    ):
        post_notification(b"<Order/>")
    with pytest.raises(AssertionError, match="answered 401"):
        post_notification(build_order_notification(), credentials=("bandwidth", "wrong"))


def test_post_notification_without_configured_credentials(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    assert post_notification(build_event_notification()).event_type == "MESSAGING_LOST"


def test_capture_includes_signals_asked_for_by_name_and_notes() -> None:
    signals.order_signal("captureOnlyType", "QUEUED")
    with capture_signals() as fired:
        post_notification(build_order_notification("captureOnlyType", "QUEUED", note="hi"))
    assert fired.names == [
        "notification_received",
        "captureonlytype_queued",
        "note_added",
        "order_changed",
    ]


def test_dispatch_inline_runs_after_commit_work_inside_a_test_transaction() -> None:
    from django.db import transaction

    ran: list[bool] = []
    with dispatch_inline():
        transaction.on_commit(lambda: ran.append(True))
        assert ran == []
    assert ran == [True]


def test_plugin_fixtures(bw_post: Any, bw_signals: Any, bw_build: Any) -> None:
    notification = bw_post(bw_build.order("orders", "COMPLETE", numbers=bw_build.numbers(2)))
    assert notification.telephone_numbers.count() == 2
    assert bw_signals.names == [
        "notification_received",
        "orders",
        "orders_complete",
        "order_changed",
        "number_changed",
        "number_changed",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("debug", "allowed"), [(False, ["app.example.com"]), (True, [])])
def test_post_notification_says_in_one_line_when_the_host_is_not_allowed(
    settings: Any, debug: bool, allowed: list[str]
) -> None:
    from django_bw_notifications.testing import build_order_notification, post_notification

    settings.DEBUG = debug
    settings.ALLOWED_HOSTS = allowed  # a shell: no "testserver"
    with pytest.raises(AssertionError) as refused:
        post_notification(build_order_notification())
    message = str(refused.value)
    assert "'testserver'" in message
    assert "ALLOWED_HOSTS" in message
    assert "<" not in message  # not Django's HTML page
