"""Signals: which fire, with what, exactly once, and what a failing receiver changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings

from django_bw_notifications import signals
from django_bw_notifications.dispatch.receivers import dispatch
from django_bw_notifications.models import Notification, ProcessingState
from django_bw_notifications.signals import event_signal, on_event, on_order, order_signal
from tests.support import notification_xml, payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(post: Any, django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """POST a body and run what is scheduled after commit, as in production."""

    def _deliver(body: bytes, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            response = post(body, **kwargs)
        assert response.status_code == 200, response.content
        return response

    return _deliver


def test_order_notification_fires_received_type_and_type_status_signals(
    deliver: Any, recorder: Any
) -> None:
    rec = recorder(
        signals.notification_received,
        order_signal("orders"),
        order_signal("orders", "COMPLETE"),
        order_signal("orders", "FAILED"),
        order_signal("portins"),
        event_signal("MESSAGING_LOST"),
        signals.note_added,
    )
    deliver(payload("01"))
    notification = Notification.objects.get()
    fired = [signal for signal, _ in rec.calls]
    assert fired == [
        signals.notification_received,
        order_signal("orders"),
        order_signal("orders", "COMPLETE"),
    ]
    for _, kwargs in rec.calls:
        assert kwargs["sender"] is Notification
        assert kwargs["notification"] == notification
        assert kwargs["replay"] is False


def test_receivers_get_the_stored_instance(deliver: Any, connect: Any) -> None:
    seen: list[Notification] = []

    def receiver(sender: Any, notification: Notification, **kwargs: Any) -> None:
        seen.append(notification)
        assert notification.pk is not None
        assert list(notification.telephone_numbers.values_list("e164", flat=True)) == [
            "+19195007741",
            "+19195181224",
            "+19195182893",
        ]

    connect(signals.orders_complete, receiver)
    deliver(payload("06"))
    assert len(seen) == 1
    assert Notification.objects.get().processing_state == ProcessingState.PROCESSED


def test_event_notification_fires_the_event_signal_not_order_signals(
    deliver: Any, recorder: Any
) -> None:
    rec = recorder(
        signals.notification_received, event_signal("messaging_lost"), order_signal("orders")
    )
    deliver(payload("22"))
    assert [s for s, _ in rec.calls] == [
        signals.notification_received,
        event_signal("MESSAGING_LOST"),
    ]


def test_note_fires_note_added_after_the_order_signals(deliver: Any, recorder: Any) -> None:
    rec = recorder(signals.note_added, signals.portins_submitted, signals.portins)
    deliver(payload("17"))
    assert [s for s, _ in rec.calls] == [
        signals.portins,
        signals.portins_submitted,
        signals.note_added,
    ]


def test_names_compare_case_insensitively() -> None:
    assert order_signal("PORTINS", "complete") is order_signal("portins", "COMPLETE")
    assert order_signal("BulkPortins") is order_signal("bulkPortins")
    assert event_signal("messaging_lost") is event_signal("MESSAGING_LOST")
    assert order_signal("portins") is not order_signal("portins", "COMPLETE")


def test_friendly_names_are_the_registry_signals() -> None:
    assert signals.portins_complete is order_signal("portins", "COMPLETE")
    assert signals.portins is order_signal("portins")
    assert signals.bulkportins_valid_draft_tns is order_signal("bulkPortins", "VALID_DRAFT_TNS")
    assert signals.e911s_adjusted_complete is order_signal("e911s", "ADJUSTED_COMPLETE")
    assert signals.messaging_lost is event_signal("MESSAGING_LOST")
    assert "portouts_complete" in dir(signals)
    with pytest.raises(AttributeError, match="portin_complete"):
        signals.portin_complete  # noqa: B018


def test_case_of_the_sent_names_does_not_matter_for_dispatch(deliver: Any, recorder: Any) -> None:
    rec = recorder(signals.orders_complete)
    deliver(notification_xml(order_type="ORDERS", status="complete"))
    assert len(rec.calls) == 1


def test_unknown_type_and_status_are_stored_and_fire_received_and_asked_for_signals(
    deliver: Any, recorder: Any
) -> None:
    rec = recorder(signals.notification_received, order_signal("numberPortabilityChecks", "QUEUED"))
    deliver(notification_xml(order_type="numberPortabilityChecks", status="QUEUED"))
    assert [s for s, _ in rec.calls] == [
        signals.notification_received,
        order_signal("numberportabilitychecks", "queued"),
    ]
    assert Notification.objects.get().order_type == "numberPortabilityChecks"


def test_strict_decorators_refuse_misspelt_names() -> None:
    with pytest.raises(ValueError, match="unknown order type 'portin'"):
        on_order("portin", "COMPLETE")
    with pytest.raises(ValueError, match="unknown status 'DONE' for 'portins'"):
        on_order("portins", "DONE")
    with pytest.raises(ValueError, match="unknown event type"):
        on_event("MESSAGE_LOST")
    with pytest.raises(ValueError, match="non-empty"):
        order_signal("  ")


def test_decorators_connect_receivers(deliver: Any) -> None:
    got: list[str] = []

    @on_order("PortIns", "foc", weak=False)
    def on_foc(sender: Any, notification: Notification, **kwargs: Any) -> None:
        got.append(notification.order_id)

    @on_order("brandNewType", strict=False, weak=False)
    def on_new(sender: Any, notification: Notification, **kwargs: Any) -> None:
        got.append("new")

    try:
        deliver(payload("16"))
        deliver(notification_xml(order_type="brandNewType"))
    finally:
        signals.portins_foc.disconnect(on_foc)
        order_signal("brandNewType").disconnect(on_new)
    assert got == ["ee456cfb-d237-4adc-b3f8-9db03d2e62a2", "new"]


def test_a_failing_receiver_does_not_stop_others_or_change_the_200(
    deliver: Any, connect: Any, recorder: Any
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("CRM is down")

    connect(signals.notification_received, broken)
    rec = recorder(signals.orders_complete)
    response = deliver(payload("01"))
    assert response.status_code == 200
    assert len(rec.calls) == 1
    notification = Notification.objects.get()
    assert notification.processing_state == ProcessingState.FAILED
    assert notification.attempts == 1
    assert "tests.test_signals" in notification.last_error
    assert "RuntimeError: CRM is down" in notification.last_error
    assert "Traceback (most recent call last)" in notification.last_error


def test_a_failing_receivers_writes_roll_back_but_the_notification_stays(
    deliver: Any, connect: Any
) -> None:
    def writes_then_fails(**kwargs: Any) -> None:
        Group.objects.create(name="half-done")
        raise ValueError("boom")

    def writes(**kwargs: Any) -> None:
        Group.objects.create(name="done")

    connect(signals.notification_received, writes_then_fails)
    connect(signals.notification_received, writes)
    deliver(payload("01"))
    assert list(Group.objects.values_list("name", flat=True)) == ["done"]
    assert Notification.objects.get().processing_state == ProcessingState.FAILED


def test_async_receivers_are_called_too(deliver: Any, connect: Any) -> None:
    got: list[int] = []

    async def receiver(sender: Any, notification: Notification, **kwargs: Any) -> None:
        got.append(notification.pk)

    connect(signals.notification_received, receiver)
    deliver(payload("01"))
    assert got == [Notification.objects.get().pk]


def test_signals_fire_only_after_commit(
    post: Any, recorder: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rec = recorder()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post(payload("01"))
        assert rec.calls == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(rec.calls) == 1


def test_duplicate_is_answered_200_stored_once_and_not_dispatched_again(
    deliver: Any, recorder: Any
) -> None:
    rec = recorder()
    deliver(payload("03"))
    # The same notification re-serialised: other whitespace, order and declaration.
    copy = (
        payload("03")
        .replace(b"  ", b"")
        .replace(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', b"")
    )
    deliver(copy)
    deliver(payload("03"))
    assert len(rec.calls) == 1
    notification = Notification.objects.get()
    assert notification.duplicate_count == 2
    assert notification.last_duplicate_at is not None


@override_settings(BW_NOTIFICATIONS_KEEP_STATE=True)
def test_copies_for_two_subscriptions_are_two_notifications_and_one_news(
    deliver: Any, recorder: Any
) -> None:
    # Two subscriptions for one order type each POST their own copy: two messages (each
    # stored, with its SubscriptionId), one state of the order: the business runs once.
    rec = recorder()
    deliver(payload("01"))
    deliver(payload("01").replace(b"d8274fa6", b"11111111"))
    assert Notification.objects.count() == 2
    first, second = Notification.objects.order_by("id")
    assert len(rec.calls) == 1
    assert second.copy_of == first
    assert first.duplicate_count == 1
    assert second.processing_state == ProcessingState.PROCESSED


@override_settings(BW_NOTIFICATIONS_KEEP_STATE=False)
def test_without_the_order_book_each_subscriptions_copy_is_dispatched(
    deliver: Any, recorder: Any
) -> None:
    rec = recorder()
    deliver(payload("01"))
    deliver(payload("01").replace(b"d8274fa6", b"11111111"))
    assert len(rec.calls) == 2


def test_a_duplicate_retries_a_failed_dispatch_once(deliver: Any, connect: Any) -> None:
    outcomes = iter([RuntimeError("first time"), None, None])
    calls: list[bool] = []

    def flaky(replay: bool, **kwargs: Any) -> None:
        calls.append(replay)
        error = next(outcomes)
        if error:
            raise error

    connect(signals.notification_received, flaky)
    deliver(payload("01"))
    assert Notification.objects.get().processing_state == ProcessingState.FAILED
    deliver(payload("01"))
    deliver(payload("01"))  # already processed: not dispatched again
    notification = Notification.objects.get()
    assert calls == [False, True]
    assert notification.processing_state == ProcessingState.PROCESSED
    assert notification.attempts == 2
    assert notification.last_error == ""


def test_replay_dispatches_again_and_records_the_outcome(deliver: Any, recorder: Any) -> None:
    deliver(payload("01"))
    rec = recorder()
    outcome = dispatch(Notification.objects.get(), replay=True)
    assert outcome.succeeded
    assert outcome.receivers_called == 1
    assert rec.calls[0][1]["replay"] is True
    assert Notification.objects.get().attempts == 2


def test_a_slow_receiver_delays_nothing_but_itself(
    deliver: Any, connect: Any, recorder: Any
) -> None:
    import time

    connect(signals.notification_received, lambda **kwargs: time.sleep(0.3))
    rec = recorder(signals.orders_complete)
    response = deliver(payload("01"))
    assert response.status_code == 200
    assert len(rec.calls) == 1
    assert Notification.objects.get().processing_state == ProcessingState.PROCESSED
