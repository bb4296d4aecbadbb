"""Reconciliation against the fake Bandwidth, and the whole round trip over real sockets."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from django_bw_notifications import signals
from django_bw_notifications.accounts import get_account
from django_bw_notifications.bandwidth.client import NumbersClient
from django_bw_notifications.bandwidth.reconcile import (
    candidates,
    fetch_order_details,
    reconcile_order,
)
from django_bw_notifications.catalog import is_final_status
from django_bw_notifications.intake.ingest import ingest
from django_bw_notifications.models import Notification, ProcessingState, Source
from django_bw_notifications.parsing import parse_notification
from django_bw_notifications.testing import build_order_notification
from tests.support import PASSWORD, USERNAME, account_settings, notification_xml

ACCOUNT = "9900001"


def portin_xml(order_id: str, status: str, numbers: tuple[str, ...] = ("9195550001",)) -> str:
    listed = "".join(f"<PhoneNumber>{n}</PhoneNumber>" for n in numbers)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><LnpOrderResponse>'
        f"<OrderId>{order_id}</OrderId><Status><Code>200</Code><Description>ok</Description>"
        f"</Status><ProcessingStatus>{status}</ProcessingStatus>"
        "<CustomerOrderId>port-9</CustomerOrderId>"
        "<LastModifiedDate>2026-11-21T08:00:00.000Z</LastModifiedDate>"
        f"<ListOfPhoneNumbers>{listed}</ListOfPhoneNumbers></LnpOrderResponse>"
    )


def store(
    order_type: str, order_id: str, status: str, *, account: str = "default", age: int = 7200
) -> Notification:
    parsed = parse_notification(
        notification_xml(order_type=order_type, order_id=order_id, status=status)
    )
    notification = ingest(parsed, account=account).notification
    Notification.objects.filter(pk=notification.pk).update(
        received_at=timezone.now() - timedelta(seconds=age)
    )
    notification.refresh_from_db()
    return notification


def reconcile(*args: str) -> str:
    out = StringIO()
    call_command("bw_notifications_reconcile", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_a_missed_status_is_stored_and_dispatched_once(
    fake_bandwidth: Any, recorder: Any, django_capture_on_commit_callbacks: Any
) -> None:
    store("portins", "p-1", "SUBMITTED")
    fake_bandwidth.set_order(
        ACCOUNT, "portins", "p-1", portin_xml("p-1", "FOC", ("9195550001", "+19195550002"))
    )
    seen = recorder(signals.order_signal("portins", "FOC"))
    with django_capture_on_commit_callbacks(execute=True):
        output = reconcile()
    reconciled = Notification.objects.get(status="FOC")
    assert reconciled.source == Source.RECONCILED
    assert reconciled.account == "default"
    assert reconciled.order_id == "p-1"
    assert reconciled.customer_order_id == "port-9"
    assert reconciled.raw_body == portin_xml("p-1", "FOC", ("9195550001", "+19195550002"))
    assert reconciled.last_modified_date is not None
    assert list(reconciled.telephone_numbers.values_list("number", "e164")) == [
        ("9195550001", "+19195550001"),
        ("+19195550002", "+19195550002"),
    ]
    assert reconciled.processing_state == ProcessingState.PROCESSED
    assert len(seen.calls) == 1
    assert (
        f"portins p-1: ours SUBMITTED, Bandwidth FOC: stored notification {reconciled.pk}" in output
    )
    # Again: Bandwidth agrees with our latest now; nothing stored, nothing dispatched.
    with django_capture_on_commit_callbacks(execute=True):
        again = reconcile("--older-than", "0")
    assert "portins p-1: still FOC" in again
    assert Notification.objects.count() == 2
    assert len(seen.calls) == 1


@pytest.mark.django_db
def test_a_reconciled_foc_then_bandwidths_late_copy_runs_the_receivers_once(
    fake_bandwidth: Any, recorder: Any, deliver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # Bandwidth's LnpOrderResponse carries the FOC date, and so does its FOC
    # notification: the reconciled copy must tell the same news, or the late delivery
    # would be news again.
    store("portins", "p-foc", "SUBMITTED")
    answer = portin_xml("p-foc", "FOC").replace(
        "<ListOfPhoneNumbers>",
        "<ActualFocDate>2026-12-10T15:00:00Z</ActualFocDate><ListOfPhoneNumbers>",
    )
    fake_bandwidth.set_order(ACCOUNT, "portins", "p-foc", answer)
    rec = recorder(signals.portins_foc, signals.order_changed)
    with django_capture_on_commit_callbacks(execute=True):
        reconcile("--older-than", "0")
    reconciled = Notification.objects.get(status="FOC")
    assert reconciled.actual_foc_date is not None
    assert reconciled.actual_foc_date.isoformat() == "2026-12-10T15:00:00+00:00"
    late = deliver(
        build_order_notification(
            "portins",
            "FOC",
            order_id="p-foc",
            numbers=[],
            last_modified_date="2026-11-21T08:00:00Z",
            actual_foc_date="2026-12-10T15:00:00Z",
        )
    )
    assert late.copy_of_id == reconciled.pk
    assert len(rec.fired(signals.portins_foc)) == 1
    assert len(rec.fired(signals.order_changed)) == 1  # the FOC; the copy changes nothing
    # A FOC date Bandwidth moved since is news to reconcile, though the status is the same.
    fake_bandwidth.set_order(
        ACCOUNT, "portins", "p-foc", answer.replace("2026-12-10T15", "2026-12-12T15")
    )
    Notification.objects.update(received_at=timezone.now() - timedelta(hours=3))
    with django_capture_on_commit_callbacks(execute=True):
        reconcile("--older-than", "0")
    assert len(rec.fired(signals.portins_foc)) == 2


@pytest.mark.django_db
def test_the_same_answer_twice_is_a_duplicate_not_a_second_dispatch(
    fake_bandwidth: Any, recorder: Any, django_capture_on_commit_callbacks: Any
) -> None:
    latest = store("portins", "p-2", "SUBMITTED")
    fake_bandwidth.set_order(ACCOUNT, "portins", "p-2", portin_xml("p-2", "FOC"))
    seen = recorder(signals.notification_received)
    with (
        NumbersClient(get_account("default")) as client,
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = reconcile_order(client, latest)
        second = reconcile_order(client, latest)  # a concurrent run saw the same latest
    assert (first.action, second.action) == ("stored", "duplicate")
    assert first.stored is not None
    assert second.stored is not None
    assert first.stored.pk == second.stored.pk
    assert len(seen.calls) == 1


@pytest.mark.django_db
def test_only_unfinished_quiet_recent_orders_are_asked(
    fake_bandwidth: Any, django_assert_num_queries: Any
) -> None:
    store("portins", "final", "COMPLETE")
    store("orders", "fresh", "BACKORDERED", age=60)
    store("orders", "ancient", "BACKORDERED", age=40 * 86_400)
    asked = store("disconnects", "asked", "RECEIVED")
    older = store("portins", "moved-on", "SUBMITTED", age=9000)
    store("portins", "moved-on", "COMPLETE", age=8000)
    with django_assert_num_queries(1):
        found = candidates(None, older_than=timedelta(hours=1), within=timedelta(days=30))
    assert [n.order_id for n in found] == [asked.order_id]
    assert older.order_id not in {n.order_id for n in found}


@pytest.mark.django_db
def test_unsupported_types_are_named_and_not_failures(fake_bandwidth: Any) -> None:
    store("lsrorders", "l-1", "PENDING")
    store("e911s", "e-1", "PROCESSING")
    output = reconcile()
    assert (
        "lsrorders: 1 order(s) not checked: fetching lsrorders orders is not supported yet"
        in output
    )
    assert "e911s: 1 order(s) not checked" in output
    assert fake_bandwidth.calls == []


@pytest.mark.django_db
def test_a_failing_order_exits_non_zero_after_doing_the_others(fake_bandwidth: Any) -> None:
    store("orders", "gone", "BACKORDERED", age=9000)
    store("portins", "p-3", "SUBMITTED")
    fake_bandwidth.set_order(ACCOUNT, "portins", "p-3", portin_xml("p-3", "COMPLETE"))
    err = StringIO()
    with pytest.raises(CommandError, match=r"could not be asked about 1 order"):
        call_command("bw_notifications_reconcile", stdout=StringIO(), stderr=err)
    assert re.search(
        r"orders gone: Bandwidth answered 404 to GET /orders/gone \(account 'default' at "
        r"http://127\.0\.0\.1:\d+/api\): 5005: Order gone not found",
        err.getvalue(),
    )
    assert Notification.objects.filter(order_id="p-3", status="COMPLETE").exists()


@pytest.mark.django_db
def test_dry_run_stores_nothing(fake_bandwidth: Any) -> None:
    store("portins", "p-4", "SUBMITTED")
    fake_bandwidth.set_order(ACCOUNT, "portins", "p-4", portin_xml("p-4", "FOC"))
    assert "ours SUBMITTED, Bandwidth FOC (dry run" in reconcile("--dry-run")
    assert Notification.objects.count() == 1


@pytest.mark.django_db
def test_each_account_is_asked_about_its_own_orders(fake_bandwidth: Any, settings: Any) -> None:
    fake_bandwidth.subscriptions["9900002"] = {}
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT),
        "east": account_settings(fake_bandwidth, "9900002"),
    }
    store("portins", "east-1", "SUBMITTED", account="east")
    store("portins", "home-1", "SUBMITTED")
    fake_bandwidth.set_order("9900002", "portins", "east-1", portin_xml("east-1", "FOC"))
    reconcile("--account", "east")
    assert [c.path for c in fake_bandwidth.calls] == ["/api/accounts/9900002/portins/east-1"]
    assert Notification.objects.get(order_id="east-1", status="FOC").account == "east"
    with pytest.raises(CommandError, match="no account 'west'"):
        reconcile("--account", "west")


@pytest.mark.django_db
def test_fetch_order_details_for_a_stored_notification(fake_bandwidth: Any) -> None:
    notification = store("portins", "p-5", "FOC")
    fake_bandwidth.set_order(ACCOUNT, "portins", "p-5", portin_xml("p-5", "FOC"))
    details = fetch_order_details(notification)
    assert details.status == "FOC"
    assert details.raw.startswith("<?xml")


@pytest.mark.django_db(transaction=True)
def test_round_trip_ensure_deliver_miss_and_reconcile(
    fake_bandwidth: Any, live_server: Any, settings: Any, recorder: Any
) -> None:
    """Bandwidth's side and ours over real sockets: subscribe, deliver through the 401
    challenge, lose one while our endpoint is down, recover it with reconcile."""
    endpoint = live_server.url + reverse("bw_notifications:webhook")
    settings.BW_NOTIFICATIONS_BASIC_AUTH = [(USERNAME, PASSWORD)]
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(
            fake_bandwidth, ACCOUNT, CALLBACK_URL=endpoint, ORDER_TYPES=["portins"], EVENT_TYPES=[]
        )
    }
    call_command("bw_notifications_subscriptions", "ensure", stdout=StringIO())
    (subscription,) = fake_bandwidth.subscriptions[ACCOUNT].values()
    seen = recorder(signals.order_signal("portins"))

    submitted = notification_xml(order_type="portins", order_id="rt-1", status="SUBMITTED")
    assert fake_bandwidth.notify(ACCOUNT, "portins", submitted) == ["200 OK"]
    assert fake_bandwidth.deliveries == [(endpoint, [401, 200])]  # challenged, then sent
    stored = Notification.objects.get(order_id="rt-1")
    assert stored.account == "default"

    # Our endpoint is down: Bandwidth's one attempt fails, and it never retries.
    subscription.url = "http://127.0.0.1:9/bandwidth/"
    foc = notification_xml(order_type="portins", order_id="rt-1", status="FOC")
    assert fake_bandwidth.notify(ACCOUNT, "portins", foc)[0].startswith("Connection failed")
    subscription.url = endpoint
    with pytest.raises(CommandError):
        call_command("bw_notifications_subscriptions", "status", stdout=StringIO())

    fake_bandwidth.set_order(ACCOUNT, "portins", "rt-1", portin_xml("rt-1", "FOC"))
    reconcile("--older-than", "0")
    reconcile("--older-than", "0")
    assert list(Notification.objects.order_by("id").values_list("status", "source")) == [
        ("SUBMITTED", "delivery"),
        ("FOC", "reconciled"),
    ]
    assert [kwargs["notification"].status for _, kwargs in seen.calls] == ["SUBMITTED", "FOC"]


@pytest.mark.django_db
def test_the_sql_final_check_agrees_with_the_catalogue(fake_bandwidth: Any) -> None:
    """candidates() decides "final" in SQL; it must agree with catalog.is_final_status,
    case-insensitively, for known and unknown order types."""
    cases = [
        (order_type, status)
        for order_type in ("portins", "PortIns", "orders", "disconnects", "bulkPortins", "widgets")
        for status in ("COMPLETE", "complete", "FOC", "EXCEPTION", "PARTIAL", "Cancelled", "FAILED")
    ]
    for index, (order_type, status) in enumerate(cases):
        store(order_type, f"case-{index}", status)
    found = {
        n.order_id
        for n in candidates(None, older_than=timedelta(hours=1), within=timedelta(days=30))
    }
    expected = {
        f"case-{index}"
        for index, (order_type, status) in enumerate(cases)
        if not is_final_status(order_type, status)
    }
    assert found == expected
    assert "case-0" not in found  # portins COMPLETE
    assert len(expected) > 10
