"""The order book and the number inventory, kept in each dispatch: one state, one dispatch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_bw_notifications import signals
from django_bw_notifications.dispatch import scheduling
from django_bw_notifications.dispatch.receivers import dispatch
from django_bw_notifications.intake.ingest import ingest
from django_bw_notifications.models import (
    AccountNumber,
    Notification,
    NumberState,
    Order,
    ProcessingState,
    Source,
)
from django_bw_notifications.parsing import parse_notification
from django_bw_notifications.testing import build_event_notification, build_order_notification
from tests.support import on_postgres, payload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_state(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_KEEP_STATE = True


T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def order_body(order_type: str, status: str, hours: float, **kwargs: Any) -> bytes:
    kwargs.setdefault("order_id", "o-1")
    kwargs.setdefault("numbers", ["9195551234"])
    return build_order_notification(order_type, status, last_modified_date=at(hours), **kwargs)


def test_a_new_order_is_booked_and_announced_once(deliver: Any, recorder: Any) -> None:
    rec = recorder(signals.order_changed, signals.orders_complete)
    notification = deliver(order_body("orders", "COMPLETE", 1, customer_order_id="c-7"))
    order = Order.objects.get()
    assert (order.order_type, order.order_id, order.status) == ("orders", "o-1", "COMPLETE")
    assert order.closed is True
    assert order.customer_order_id == "c-7"
    assert order.status_since == at(1)
    assert order.first_notified_at == order.last_notified_at == notification.received_at
    assert list(order.notifications.all()) == [notification]
    [changed] = rec.fired(signals.order_changed)
    assert changed["sender"] is Order
    assert changed["order"] == order
    assert changed["previous_status"] == ""
    assert changed["notification"] == notification
    assert changed["replay"] is False
    assert [(c.previous_status, c.new_status) for c in order.changes.all()] == [("", "COMPLETE")]


@pytest.mark.parametrize(("order_type", "status"), [("portins", "COMPLETE"), ("orders", "PARTIAL")])
def test_a_state_reconciled_first_is_not_dispatched_again_when_bandwidth_delivers_it(
    deliver: Any,
    recorder: Any,
    django_capture_on_commit_callbacks: Any,
    order_type: str,
    status: str,
) -> None:
    # What bw_notifications_reconcile stores: Bandwidth's state, its own message; then
    # Bandwidth's late delivery of the same state, with its SubscriptionId and message.
    rec = recorder(signals.order_signal(order_type, status), signals.number_changed)
    recovered = parse_notification(
        order_body(order_type, status, 5, message="", subscription_id="")
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = ingest(recovered, source=Source.RECONCILED).notification
    late = deliver(order_body(order_type, status, 5, message="Bandwidth's own words"))
    assert Notification.objects.count() == 2
    assert len(rec.fired(signals.order_signal(order_type, status))) == 1
    assert len(rec.fired(signals.number_changed)) == 1
    late.refresh_from_db()
    first.refresh_from_db()
    assert late.copy_of == first
    assert first.duplicate_count == 1
    assert late.processing_state == ProcessingState.PROCESSED
    assert late.order_entry == first.order_entry
    assert Order.objects.get().notifications.count() == 2


def test_a_delivery_first_then_the_reconciled_copy_runs_once_too(
    deliver: Any, recorder: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rec = recorder(signals.portins_complete)
    deliver(order_body("portins", "COMPLETE", 5))
    with django_capture_on_commit_callbacks(execute=True):
        ingest(
            parse_notification(order_body("portins", "COMPLETE", 5, message="")),
            source=Source.RECONCILED,
        )
    assert len(rec.fired(signals.portins_complete)) == 1


def test_a_new_foc_date_and_a_note_are_news(deliver: Any, recorder: Any) -> None:
    rec = recorder(signals.portins_foc, signals.order_changed, signals.note_added)
    deliver(order_body("portins", "FOC", 1, actual_foc_date=at(48), customer_order_id="c-1"))
    deliver(order_body("portins", "FOC", 2, actual_foc_date=at(72)))
    deliver(order_body("portins", "FOC", 3, note="The losing carrier asked for a new date."))
    assert len(rec.fired(signals.portins_foc)) == 3
    assert len(rec.fired(signals.note_added)) == 1
    # The new date changed the order; the note did not (same status, same date).
    assert [c["previous_status"] for c in rec.fired(signals.order_changed)] == ["", "FOC"]
    order = Order.objects.get()
    assert order.actual_foc_date == at(72)
    assert order.customer_order_id == "c-1"
    assert order.closed is False
    assert not Notification.objects.filter(copy_of__isnull=False).exists()


def test_a_foc_date_arriving_behind_a_newer_note_is_a_change_announced(
    deliver: Any, recorder: Any
) -> None:
    rec = recorder(signals.order_changed)
    deliver(order_body("portins", "FOC", 1, actual_foc_date=at(48), numbers=[]))
    deliver(order_body("portins", "FOC", 3, note="Waiting on the losing carrier.", numbers=[]))
    deliver(order_body("portins", "FOC", 2, actual_foc_date=at(96), numbers=[]))  # late
    order = Order.objects.get()
    assert order.actual_foc_date == at(96)
    assert order.status_since == at(3)
    # One change per news that changed the order: the FOC, then its new date.
    assert [c["previous_status"] for c in rec.fired(signals.order_changed)] == ["", "FOC"]
    assert [(c.previous_status, c.new_status, c.changed_at) for c in order.changes.all()] == [
        ("", "FOC", at(1)),
        ("FOC", "FOC", at(2)),
    ]


def test_a_replay_announces_the_state_its_change_set_not_todays(
    deliver: Any, recorder: Any
) -> None:
    deliver(order_body("orders", "COMPLETE", 1, order_id="o-a"))
    disconnect = deliver(order_body("disconnects", "COMPLETE", 2, order_id="d-a"))
    deliver(order_body("orders", "COMPLETE", 3, order_id="o-b"))
    assert AccountNumber.objects.get().state == NumberState.IN_SERVICE
    rec = recorder(signals.number_changed, signals.order_changed)
    dispatch(disconnect, replay=True)
    [changed] = rec.fired(signals.number_changed)
    assert changed["replay"] is True
    assert changed["previous_state"] == NumberState.IN_SERVICE
    assert changed["number"].state == NumberState.DISCONNECTED  # as the disconnect left it
    assert AccountNumber.objects.get().state == NumberState.IN_SERVICE  # unchanged
    [order_changed] = rec.fired(signals.order_changed)
    assert order_changed["order"].status == "COMPLETE"


def test_an_order_that_re_enters_a_status_is_news(deliver: Any, recorder: Any) -> None:
    rec = recorder(signals.portins_foc)
    deliver(order_body("portins", "FOC", 1, actual_foc_date=at(48)))
    deliver(order_body("portins", "REQUESTED_SUPP", 2))
    deliver(order_body("portins", "FOC", 3, actual_foc_date=at(48)))
    assert len(rec.fired(signals.portins_foc)) == 2
    assert Order.objects.get().status == "FOC"


def test_an_older_notification_arriving_late_never_moves_the_order_back(
    deliver: Any, recorder: Any
) -> None:
    rec = recorder(signals.order_changed, signals.portins_submitted)
    deliver(order_body("portins", "COMPLETE", 5))
    late = deliver(order_body("portins", "SUBMITTED", 1, customer_order_id="c-late"))
    order = Order.objects.get()
    assert order.status == "COMPLETE"
    assert order.status_since == at(5)
    # Still news (we never heard of SUBMITTED), flagged stale, and fills a blank.
    assert len(rec.fired(signals.portins_submitted)) == 1
    assert late.is_stale is True
    assert order.customer_order_id == "c-late"
    assert len(rec.fired(signals.order_changed)) == 1


def test_numbers_follow_their_orders_and_never_move_back(deliver: Any, recorder: Any) -> None:
    rec = recorder(signals.number_changed)
    deliver(order_body("orders", "COMPLETE", 1, order_id="buy"))
    number = AccountNumber.objects.get()
    assert (number.e164, number.state, number.order_id) == ("+19195551234", "in_service", "buy")
    deliver(order_body("disconnects", "COMPLETE", 3, order_id="drop"))
    deliver(order_body("orders", "COMPLETE", 2, order_id="older-buy"))  # late and older
    number.refresh_from_db()
    assert (number.state, number.order_type, number.order_id) == (
        "disconnected",
        "disconnects",
        "drop",
    )
    assert number.state_since == at(3)
    deliver(order_body("portins", "COMPLETE", 4, order_id="back"))
    deliver(order_body("portouts", "COMPLETE", 5, order_id="gone"))
    number.refresh_from_db()
    assert number.state == NumberState.PORTED_OUT
    assert [(c["previous_state"], c["number"].pk) for c in rec.fired(signals.number_changed)] == [
        ("", number.pk),
        ("in_service", number.pk),
        ("disconnected", number.pk),
        ("in_service", number.pk),
    ]
    history = [(c.previous_state, c.new_state) for c in number.changes.all()]
    assert history == [
        ("", "in_service"),
        ("in_service", "disconnected"),
        ("disconnected", "in_service"),
        ("in_service", "ported_out"),
    ]


def test_a_failed_order_moves_no_number(deliver: Any) -> None:
    deliver(payload("02"))  # orders FAILED, listing the numbers it tried
    assert not AccountNumber.objects.exists()
    assert Order.objects.get().status == "FAILED"


def test_messaging_lost_flags_a_number_until_it_is_in_service_again(
    deliver: Any, recorder: Any
) -> None:
    rec = recorder(signals.number_changed)
    deliver(order_body("orders", "COMPLETE", 1, order_id="buy"))
    deliver(build_event_notification(numbers=["+19195551234", "9195559999"]))
    flagged = AccountNumber.objects.get(e164="+19195551234")
    stranger = AccountNumber.objects.get(e164="+19195559999")
    assert (flagged.state, flagged.messaging_lost) == ("in_service", True)
    assert (stranger.state, stranger.messaging_lost) == (NumberState.UNKNOWN, True)
    assert len(rec.fired(signals.number_changed)) == 3  # new, flag, stranger
    later = datetime.now(UTC) + timedelta(hours=1)
    deliver(
        build_order_notification(
            "orders", "COMPLETE", numbers=["9195559999"], last_modified_date=later
        )
    )
    stranger.refresh_from_db()
    assert (stranger.state, stranger.messaging_lost) == ("in_service", False)


def test_the_old_event_form_flags_its_completed_numbers(deliver: Any) -> None:
    deliver(payload("22"))  # MESSAGING_LOST with CompletedTelephoneNumbers
    assert sorted(AccountNumber.objects.values_list("e164", "messaging_lost")) == [
        ("+19192345678", True),
        ("+19192345679", True),
    ]


def test_a_replay_changes_nothing_twice_and_announces_again(deliver: Any, recorder: Any) -> None:
    rec = recorder(signals.order_changed, signals.number_changed)
    notification = deliver(order_body("orders", "COMPLETE", 1))
    before = list(Order.objects.values()), list(AccountNumber.objects.values())
    dispatch(notification, replay=True)
    assert (list(Order.objects.values()), list(AccountNumber.objects.values())) == before
    assert Order.objects.get().changes.count() == 1
    assert AccountNumber.objects.get().changes.count() == 1
    assert [c["replay"] for c in rec.fired(signals.order_changed)] == [False, True]
    assert [c["replay"] for c in rec.fired(signals.number_changed)] == [False, True]


def test_a_failed_receiver_is_replayed_without_learning_twice(deliver: Any, connect: Any) -> None:
    calls: list[bool] = []

    def flaky(sender: Any, number: AccountNumber, replay: bool, **kwargs: Any) -> None:
        calls.append(replay)
        if not replay:
            raise ConnectionError("billing is down")

    connect(signals.number_changed, flaky)
    notification = deliver(order_body("orders", "COMPLETE", 1))
    assert notification.processing_state == ProcessingState.FAILED
    assert "billing is down" in notification.last_error
    # The book kept what it learned (the receiver's failure rolled back its own writes
    # only); the replay runs the failed receiver again.
    assert AccountNumber.objects.get().state == "in_service"
    assert scheduling.replay(notification.pk, only_failed=True) is not None
    notification.refresh_from_db()
    assert notification.processing_state == ProcessingState.PROCESSED
    assert calls == [False, True]
    assert AccountNumber.objects.get().changes.count() == 1


def test_an_identical_copy_is_counted_and_changes_nothing(deliver: Any, recorder: Any) -> None:
    rec = recorder(signals.order_changed)
    body = order_body("orders", "COMPLETE", 1)
    deliver(body)
    deliver(body)
    assert Notification.objects.get().duplicate_count == 1
    assert len(rec.fired(signals.order_changed)) == 1


def test_the_sweeper_learns_as_the_first_dispatch_would(post: Any, recorder: Any) -> None:
    rec = recorder(signals.order_changed)
    assert post(order_body("orders", "COMPLETE", 1)).status_code == 200  # not dispatched
    assert not Order.objects.exists()
    scheduling.sweep(older_than=0)
    assert Order.objects.get().status == "COMPLETE"
    assert len(rec.fired(signals.order_changed)) == 1


@override_settings(BW_NOTIFICATIONS_KEEP_STATE=False)
def test_without_the_book_nothing_is_kept(deliver: Any) -> None:
    deliver(order_body("orders", "COMPLETE", 1))
    assert not Order.objects.exists()
    assert not AccountNumber.objects.exists()


@on_postgres
def test_a_5000_number_order_costs_statements_independent_of_its_numbers(deliver: Any) -> None:
    # Bulk reads and writes: the round trips a dispatch makes do not grow with the
    # numbers. (SQLite, in-process, has no round trips; Django splits its bulk writes
    # into batches of 999 parameters there.)
    def statements(count: int, order_id: str) -> int:
        body = order_body(
            "orders",
            "COMPLETE",
            1,
            order_id=order_id,
            numbers=[f"+1919{n:07d}" for n in range(count)],
        )
        with CaptureQueriesContext(connection) as captured:
            deliver(body)
        return len(captured.captured_queries)

    few, many = statements(2, "small"), statements(5000, "big")
    assert AccountNumber.objects.count() == 5000
    assert many <= few + 4, (few, many)
