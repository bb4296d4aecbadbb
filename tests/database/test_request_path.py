"""The request path's shortcuts on PostgreSQL (issue 17) keep every promise of the slow
path: one message stores the notification and its numbers, a duplicate is still
counted, the out-of-order check still runs, a lock is still bounded by the budget, and
a dispatch commits without waiting for the disk but records its attempt once."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from django_bw_notifications import signals
from django_bw_notifications.models import DispatchAttempt, Notification, TelephoneNumber
from tests.support import notification_xml, on_postgres

pytestmark = [on_postgres, pytest.mark.django_db(transaction=True)]


def _dated(order_id: str, when: str, status: str) -> bytes:
    return notification_xml(
        order_id=order_id,
        status=status,
        extra=f"<LastModifiedDate>{when}</LastModifiedDate>",
    )


def test_a_copy_sent_as_one_message_is_counted_not_stored_twice(post: Any) -> None:
    body = notification_xml(order_id="copy-1", numbers=("9195550001", "9195550002"))
    assert post(body).status_code == 200
    assert post(body).status_code == 200
    stored = Notification.objects.get(order_id="copy-1")
    assert stored.duplicate_count == 1
    # The copy's message was rolled back whole: its numbers were not inserted again.
    assert TelephoneNumber.objects.filter(notification=stored).count() == 2
    assert Notification.objects.count() == 1


def test_the_out_of_order_check_runs_inside_the_one_message(post: Any) -> None:
    assert post(_dated("late-1", "2026-01-02T10:00:00.000Z", "COMPLETE")).status_code == 200
    assert post(_dated("late-1", "2026-01-01T10:00:00.000Z", "RECEIVED")).status_code == 200
    newer, older = Notification.objects.filter(order_id="late-1").order_by("id")
    assert (newer.status, newer.is_stale) == ("COMPLETE", False)
    assert (older.status, older.is_stale) == ("RECEIVED", True)
    assert older.last_modified_date == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_receivers_get_the_row_as_stored_with_its_id_and_stale_flag(
    post: Any, connect: Any
) -> None:
    seen: list[tuple[int, bool, int]] = []

    def receiver(notification: Notification, **kwargs: Any) -> None:
        seen.append(
            (notification.pk, notification.is_stale, notification.telephone_numbers.count())
        )

    connect(signals.notification_received, receiver)
    assert post(notification_xml(order_id="seen-1", numbers=("9195550003",))).status_code == 200
    stored = Notification.objects.get(order_id="seen-1")
    assert seen == [(stored.pk, False, 1)]


def test_post_save_still_tells_a_host_once_the_row_is_committed(post: Any) -> None:
    saved: list[tuple[int, bool, bool]] = []

    def on_save(instance: Notification, created: bool, **kwargs: Any) -> None:
        committed = Notification.objects.filter(pk=instance.pk).exists()
        saved.append((instance.pk, created, committed))

    post_save.connect(on_save, sender=Notification, weak=False)
    try:
        assert post(notification_xml(order_id="saved-1")).status_code == 200
    finally:
        post_save.disconnect(on_save, sender=Notification)
    stored = Notification.objects.get(order_id="saved-1")
    assert saved == [(stored.pk, True, True)]


def test_a_locked_table_still_ends_within_the_budget(post: Any, settings: Any, caplog: Any) -> None:
    from tests.support import other_session

    settings.BW_NOTIFICATIONS_TIME_BUDGET = 1.5
    settings.BW_NOTIFICATIONS_SPOOL_DIR = None
    with other_session() as other:
        other.execute("LOCK TABLE bw_notifications_notification IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        response = post(notification_xml(order_id="locked-1"))
        took = time.monotonic() - started
    # The statement_timeout set in the same message ended the wait (not the watchdog,
    # which would sever the connection later): an honest 503 within the budget,
    # nothing half-written.
    assert response.status_code == 503
    assert took < 1.5
    assert "canceling statement due to statement timeout" in caplog.text
    assert not Notification.objects.filter(order_id="locked-1").exists()
    assert TelephoneNumber.objects.count() == 0


def test_a_dispatch_commits_without_waiting_for_the_disk_and_the_store_does_not(
    post: Any, connect: Any
) -> None:
    settings_seen: list[str] = []

    def receiver(notification: Notification, **kwargs: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('synchronous_commit')")
            settings_seen.append(cursor.fetchone()[0])

    connect(signals.notification_received, receiver)
    assert post(notification_xml(order_id="async-1")).status_code == 200
    assert settings_seen == ["off"]
    with connection.cursor() as cursor:  # transaction-local: gone with the dispatch
        cursor.execute("SELECT current_setting('synchronous_commit')")
        assert cursor.fetchone()[0] == "on"
    stored = Notification.objects.get(order_id="async-1")
    assert (stored.processing_state, stored.attempts) == ("processed", 1)


def test_the_outcome_and_its_history_are_one_statement(post: Any, connect: Any) -> None:
    def failing(notification: Notification, **kwargs: Any) -> None:
        raise RuntimeError("CRM down")

    connect(signals.notification_received, failing)
    with CaptureQueriesContext(connection) as captured:
        assert post(notification_xml(order_id="history-1")).status_code == 200
    recording = [q["sql"] for q in captured if q["sql"].startswith("WITH u AS (UPDATE")]
    assert len(recording) == 1
    # The dispatch's transaction ends in the same message as its record.
    assert recording[0].endswith("; COMMIT")
    # (the order book's own inserts aside: they are not the history's)
    assert not [q for q in captured if q["sql"].startswith('INSERT INTO "bw_notifications_disp')]
    stored = Notification.objects.get(order_id="history-1")
    assert (stored.processing_state, stored.attempts) == ("failed", 1)
    assert "CRM down" in stored.last_error
    attempt = DispatchAttempt.objects.get(notification=stored)
    assert (attempt.number, attempt.trigger, attempt.outcome) == (1, "first", "failed")
    assert attempt.failures[0]["error"] == "RuntimeError: CRM down"
    assert attempt.started_at == stored.last_attempt_at
    assert attempt.finished_at >= attempt.started_at


def test_a_second_claimer_of_the_same_attempt_records_nothing(post: Any, connect: Any) -> None:
    from django.db.models import Q

    from django_bw_notifications.dispatch.receivers import Trigger, claim_and_dispatch

    calls: list[int] = []
    connect(signals.notification_received, lambda notification, **kw: calls.append(1))
    stored = Notification.objects.get(
        pk=_stored_pending(post, notification_xml(order_id="twice-1"))
    )
    first = claim_and_dispatch(
        stored.pk, 0, eligible=Q(processing_state="pending"), trigger=Trigger.FIRST
    )
    again = claim_and_dispatch(
        stored.pk,
        0,
        eligible=Q(processing_state="pending"),
        trigger=Trigger.FIRST,
        notification=stored,
    )
    assert first is not None
    assert again is None
    assert calls == [1]
    assert DispatchAttempt.objects.filter(notification=stored).count() == 1


def _stored_pending(post: Any, body: bytes) -> int:
    """Store a notification without dispatching it (a task mode that never runs)."""
    from django.test import override_settings

    with override_settings(BW_NOTIFICATIONS_DISPATCH="tests.database.test_request_path.never"):
        assert post(body).status_code == 200
    return int(Notification.objects.latest("id").pk)


def never(notification: Notification) -> None:
    """An enqueue function that enqueues nothing."""
