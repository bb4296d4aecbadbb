"""A dispatch that finds nothing to claim does nothing, and says so with ``None``: the row
is gone (pruned meanwhile), or its attempt already ran elsewhere (a task queued twice, a
sweeper that got there first). Also: what the history and the sweeper's exit code say."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Q
from django.utils import timezone

from django_bw_notifications import signals
from django_bw_notifications.dispatch.receivers import Trigger, claim_and_dispatch
from django_bw_notifications.models import DispatchAttempt, Notification, ProcessingState
from django_bw_notifications.testing import build_order_notification, post_notification

pytestmark = pytest.mark.django_db

PENDING = Q(processing_state=ProcessingState.PENDING)


def _pending(order_id: str = "o-1") -> Notification:
    return Notification.objects.create(order_type="orders", order_id=order_id, fingerprint=order_id)


def test_a_notification_deleted_meanwhile_is_not_dispatched(recorder: Any) -> None:
    rec = recorder()
    gone = _pending()
    pk = gone.pk
    gone.delete()
    assert claim_and_dispatch(pk) is None
    assert rec.calls == []


@pytest.mark.parametrize("with_receivers", [True, False])
def test_an_attempt_that_already_ran_is_not_run_or_recorded_again(
    recorder: Any, with_receivers: bool
) -> None:
    notification = _pending()
    # The sweeper (or another task) dispatched it first: attempt 0 has run.
    assert claim_and_dispatch(notification.pk, 0, eligible=PENDING, trigger=Trigger.SWEEP)
    rec = recorder() if with_receivers else None
    stale_copy = Notification.objects.get(pk=notification.pk)
    stale_copy.attempts = 0  # what the first dispatch had in memory
    outcome = claim_and_dispatch(
        notification.pk, 0, eligible=PENDING, trigger=Trigger.FIRST, notification=stale_copy
    )
    assert outcome is None
    assert rec is None or rec.calls == []
    notification.refresh_from_db()
    assert (notification.attempts, notification.processing_state) == (
        1,
        ProcessingState.PROCESSED,
    )


def test_the_history_names_each_attempt(connect: Any) -> None:
    def boom(**kwargs: Any) -> None:
        raise RuntimeError("CRM down")

    connect(signals.notification_received, boom)
    notification = post_notification(build_order_notification("orders", "COMPLETE"))
    [attempt] = DispatchAttempt.objects.filter(notification=notification)
    assert str(attempt) == f"attempt 1 of #{notification.pk}: failed"


def test_the_sweeper_exits_non_zero_when_a_receiver_fails(connect: Any) -> None:
    def boom(**kwargs: Any) -> None:
        raise RuntimeError("CRM down")

    connect(signals.notification_received, boom)
    stuck = _pending("stuck")
    Notification.objects.filter(pk=stuck.pk).update(received_at=timezone.now() - timedelta(hours=1))
    out = StringIO()
    with pytest.raises(CommandError, match=r"^1 notifications failed; see their last_error$"):
        call_command("bw_notifications_dispatch_pending", "--older-than", "60", stdout=out)
    assert out.getvalue().startswith("Dispatched 1 unfinished notifications (1 failed, 0 taken")
    stuck.refresh_from_db()
    assert stuck.processing_state == ProcessingState.FAILED
    assert "CRM down" in stuck.last_error
