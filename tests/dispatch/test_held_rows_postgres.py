"""PostgreSQL: another session holds a notification's row or a table, as a dispatch in
flight, a migration or an operator's psql does. Each caller keeps the delivery guarantee
within the time budget: a copy is answered as stored (not counted), a refusal that cannot
be kept is logged with its body, the sweeper and replays pass over the held row."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_bw_notifications import signals
from django_bw_notifications.models import Notification, ProcessingState, RejectedDelivery
from tests.support import on_postgres, other_session, payload

pytestmark = [on_postgres, pytest.mark.django_db(transaction=True)]

TABLE = Notification._meta.db_table


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=out)
    return out.getvalue()


def test_a_copy_arriving_while_its_row_is_held_is_answered_stored_and_not_counted(
    post: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.BW_NOTIFICATIONS_TIME_BUDGET = 1
    assert post(payload("01")).status_code == 200
    first = Notification.objects.get()
    with other_session() as other:
        other.execute(f"SELECT id FROM {TABLE} WHERE id = %s FOR UPDATE", [first.pk])
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="django_bw_notifications"):
            response = post(payload("01"))
        waited = time.monotonic() - started
    assert response.status_code == 200
    assert waited < 2.5  # about the budget (1 s), not behind a lock held for ever
    first.refresh_from_db()
    assert Notification.objects.count() == 1
    assert first.duplicate_count == 0
    assert f"A copy of notification {first.pk} arrived while it was being dispatched" in (
        caplog.text
    )


def test_a_refusal_that_cannot_be_kept_is_logged_with_its_body(
    post: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.BW_NOTIFICATIONS_TIME_BUDGET = 1
    with other_session() as other:
        other.execute(f"LOCK TABLE {RejectedDelivery._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with caplog.at_level(logging.ERROR, logger="django_bw_notifications"):
            response = post(b"<Order><Kept>in the log</Kept></Order>")
        waited = time.monotonic() - started
    assert response.status_code == 400  # the honest answer, whatever the audit table does
    assert waited < 2.5
    assert RejectedDelivery.objects.count() == 0
    assert "Could not store a rejected delivery (400 " in caplog.text
    assert "<Order><Kept>in the log</Kept></Order>" in caplog.text


@pytest.fixture
def stuck() -> Notification:
    long_ago = timezone.now() - timedelta(hours=1)
    return Notification.objects.create(
        order_type="orders", order_id="held", fingerprint="held", received_at=long_ago
    )


def test_the_sweeper_passes_over_a_held_row_and_says_so(stuck: Notification, recorder: Any) -> None:
    rec = recorder()
    with other_session() as other:
        other.execute(f"SELECT id FROM {TABLE} WHERE id = %s FOR UPDATE", [stuck.pk])
        output = run("bw_notifications_dispatch_pending", "--older-than", "0")
    assert output.strip() == (
        "Dispatched 0 unfinished notifications (0 failed, 1 taken by another process meanwhile)."
    )
    assert rec.calls == []
    stuck.refresh_from_db()
    assert (stuck.processing_state, stuck.attempts) == (ProcessingState.PENDING, 0)
    # Once the other session lets go, the next sweep takes it.
    assert "Dispatched 1 unfinished" in run(
        "bw_notifications_dispatch_pending", "--older-than", "0"
    )
    assert len(rec.fired(signals.notification_received)) == 1


def test_a_replay_passes_over_a_held_row_and_says_why(stuck: Notification, recorder: Any) -> None:
    Notification.objects.filter(pk=stuck.pk).update(
        processing_state=ProcessingState.FAILED, attempts=1
    )
    rec = recorder()
    with other_session() as other:
        other.execute(f"SELECT id FROM {TABLE} WHERE id = %s FOR UPDATE", [stuck.pk])
        by_id = run("bw_notifications_replay", str(stuck.pk))
        failed_only = run("bw_notifications_replay", "--failed")
    assert f"skipped orders held #{stuck.pk}: being dispatched elsewhere" in by_id
    assert by_id.splitlines()[0].endswith(
        ": being dispatched elsewhere, or dispatched since this run began"
    )
    assert failed_only.splitlines()[0].endswith(
        ": no longer failed, or being dispatched elsewhere, or dispatched since this run began"
    )
    assert (
        by_id.splitlines()[-1]
        == failed_only.splitlines()[-1]
        == ("Replayed 0: 0 succeeded, 0 failed, 1 skipped.")
    )
    assert rec.calls == []
