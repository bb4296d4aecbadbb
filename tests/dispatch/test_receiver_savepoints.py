"""Each receiver runs in a savepoint of the dispatch's transaction (issue 17 made them
cheaper: never released, the first one opened with the claim): what a receiver writes,
and what it asks to run on commit, stands or falls with that receiver alone."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from django_bw_notifications import signals
from django_bw_notifications.models import Notification, RejectedDelivery
from django_bw_notifications.testing import build_event_notification
from tests.support import notification_xml, on_postgres

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_failing_receiver_loses_its_writes_and_its_on_commit_callbacks_alone(
    post: Any, connect: Any
) -> None:
    ran: list[str] = []

    def good(notification: Notification, **kwargs: Any) -> None:
        RejectedDelivery.objects.create(status_code=299, reason="good", body=b"", body_size=0)
        transaction.on_commit(lambda: ran.append("good"))

    def bad(notification: Notification, **kwargs: Any) -> None:
        RejectedDelivery.objects.create(status_code=298, reason="bad", body=b"", body_size=0)
        transaction.on_commit(lambda: ran.append("bad"))
        raise RuntimeError("CRM down")

    def also_good(notification: Notification, **kwargs: Any) -> None:
        transaction.on_commit(lambda: ran.append("also good"))

    for receiver in (good, bad, also_good):
        connect(signals.notification_received, receiver)
    assert post(notification_xml(order_id="sp-1")).status_code == 200
    assert sorted(RejectedDelivery.objects.values_list("reason", flat=True)) == ["good"]
    assert sorted(ran) == ["also good", "good"]
    stored = Notification.objects.get(order_id="sp-1")
    assert stored.processing_state == "failed"
    assert "RuntimeError: CRM down" in stored.last_error
    assert "also_good" not in stored.last_error


@on_postgres
def test_a_receiver_that_swallows_a_database_error_is_a_failure_not_a_stuck_row(
    post: Any, connect: Any
) -> None:
    after: list[bool] = []

    def swallows(notification: Notification, **kwargs: Any) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 / 0")
        except DatabaseError:
            pass  # the transaction is now aborted on the server

    def later(notification: Notification, **kwargs: Any) -> None:
        # The transaction is usable again: this query would fail in an aborted one.
        after.append(Notification.objects.filter(pk=notification.pk).exists())

    connect(signals.notification_received, swallows)
    connect(signals.notification_received, later)
    assert post(notification_xml(order_id="sp-2")).status_code == 200
    stored = Notification.objects.get(order_id="sp-2")
    # Its savepoint was rolled back, the next receiver ran, the attempt was recorded.
    assert after == [True]
    assert (stored.processing_state, stored.attempts) == ("failed", 1)
    assert "left the database transaction unusable" in stored.last_error


@on_postgres
def test_the_claim_opens_the_first_savepoint_and_none_is_released(post: Any, connect: Any) -> None:
    # An event the order book has nothing to learn from: the claim is the dispatch's
    # first statement, and the first receiver's savepoint rides with it.
    connect(signals.notification_received, lambda **kwargs: None)
    with CaptureQueriesContext(connection) as captured:
        assert post(build_event_notification("PORT_OUT_REQUESTED")).status_code == 200
    sent = [q["sql"] for q in captured]
    claims = [sql for sql in sent if "FOR UPDATE" in sql]
    assert len(claims) == 1
    assert claims[0].endswith('; SAVEPOINT "bw_notifications_receiver"')
    assert not [sql for sql in sent if sql.startswith(("SAVEPOINT", "RELEASE"))]
    assert Notification.objects.get().processing_state == "processed"


@on_postgres
def test_with_the_order_book_the_first_savepoint_follows_its_writes(
    post: Any, connect: Any
) -> None:
    # The book writes before any receiver, outside the receivers' savepoints (a
    # receiver's failure must not undo it): the first savepoint is opened after it.
    connect(signals.notification_received, lambda **kwargs: None)
    with CaptureQueriesContext(connection) as captured:
        assert post(notification_xml(order_id="sp-4")).status_code == 200
    sent = [q["sql"] for q in captured]
    claim = next(i for i, sql in enumerate(sent) if "FOR UPDATE" in sql)
    savepoint = next(i for i, sql in enumerate(sent) if sql.startswith("SAVEPOINT"))
    books = [i for i, sql in enumerate(sent) if '"bw_notifications_order' in sql]
    assert not sent[claim].endswith('SAVEPOINT "bw_notifications_receiver"')
    assert books
    assert claim < min(books)
    assert max(books) < savepoint
    assert Notification.objects.get(order_id="sp-4").processing_state == "processed"
