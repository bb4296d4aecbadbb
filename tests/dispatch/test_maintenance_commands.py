"""bw_notifications_replay and bw_notifications_prune: selection, outcomes, idempotence."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_bw_notifications import signals
from django_bw_notifications.models import (
    Notification,
    ProcessingState,
    RejectedDelivery,
    TelephoneNumber,
)
from django_bw_notifications.testing import build_order_notification, post_notification

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def three() -> list[Notification]:
    return [
        post_notification(build_order_notification("orders", "COMPLETE", order_id=f"o-{i}"))
        for i in range(3)
    ]


def test_replay_by_id_and_order_id(three: list[Notification], recorder: Any) -> None:
    rec = recorder()
    output = run("bw_notifications_replay", str(three[0].pk), "--order-id", "o-2")
    assert "Replayed 0" in output  # AND: id 1 does not have order id o-2
    output = run("bw_notifications_replay", str(three[0].pk), str(three[2].pk))
    assert "Replayed 2: 2 succeeded, 0 failed." in output
    assert [kwargs["notification"].order_id for _, kwargs in rec.calls] == ["o-0", "o-2"]
    assert all(kwargs["replay"] for _, kwargs in rec.calls)
    run("bw_notifications_replay", "--order-id", "o-1")
    assert len(rec.calls) == 3


def test_replay_failed_converges_and_exits_non_zero_while_failing(
    three: list[Notification], connect: Any
) -> None:
    Notification.objects.filter(pk=three[1].pk).update(processing_state=ProcessingState.FAILED)
    broken = True

    def receiver(**kwargs: Any) -> None:
        if broken:
            raise RuntimeError("still down")

    connect(signals.notification_received, receiver)
    with pytest.raises(CommandError, match="1 replay"):
        run("bw_notifications_replay", "--failed")
    assert Notification.objects.get(pk=three[1].pk).processing_state == ProcessingState.FAILED
    broken = False
    assert "Replayed 1: 1 succeeded" in run("bw_notifications_replay", "--failed")
    assert "Replayed 0" in run("bw_notifications_replay", "--failed")


def test_replay_date_range_and_dry_run(three: list[Notification], recorder: Any) -> None:
    Notification.objects.filter(pk=three[0].pk).update(
        received_at=timezone.now() - timedelta(days=10)
    )
    rec = recorder()
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    output = run("bw_notifications_replay", "--since", since, "--dry-run")
    assert output.count("would replay") == 2
    assert rec.calls == []
    until = (timezone.now() - timedelta(days=5)).isoformat()
    assert "Replayed 1" in run("bw_notifications_replay", "--until", until)


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "say what to replay"), (["--since", "last tuesday"], "is not a date")],
)
def test_replay_refuses_unclear_requests(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("bw_notifications_replay", *args)


def test_prune_in_batches_keeping_failed_and_recent(three: list[Notification]) -> None:
    old = timezone.now() - timedelta(days=40)
    Notification.objects.filter(pk__in=[three[0].pk, three[1].pk]).update(received_at=old)
    Notification.objects.filter(pk=three[1].pk).update(processing_state=ProcessingState.FAILED)
    RejectedDelivery.objects.create(
        status_code=400, reason="x", body=b"", body_size=0, received_at=old
    )
    assert "Would delete 1 notifications" in run(
        "bw_notifications_prune", "--days", "30", "--keep-failed", "--dry-run"
    )
    assert Notification.objects.count() == 3
    output = run("bw_notifications_prune", "--days", "30", "--keep-failed", "--batch-size", "1")
    assert "Deleted 1 notifications" in output
    assert "Deleted 1 rejected deliveries" in output
    assert set(Notification.objects.values_list("pk", flat=True)) == {three[1].pk, three[2].pk}
    assert not TelephoneNumber.objects.filter(notification_id=three[0].pk).exists()
    assert "Deleted 0 notifications" in run(
        "bw_notifications_prune", "--days", "30", "--keep-failed"
    )
    assert "Deleted 1 notifications" in run("bw_notifications_prune", "--days", "30")


@pytest.mark.parametrize("args", [["--days", "0"], ["--days", "5", "--batch-size", "0"]])
def test_prune_refuses_nonsense(args: list[str]) -> None:
    with pytest.raises(CommandError):
        run("bw_notifications_prune", *args)


def test_a_dry_run_says_what_it_would_do_and_does_nothing(
    three: list[Notification], recorder: Any
) -> None:
    rec = recorder()
    Notification.objects.filter(pk__in=[n.pk for n in three]).update(
        processing_state=ProcessingState.FAILED
    )
    output = run("bw_notifications_replay", "--failed", "--dry-run")
    assert output.splitlines()[-1] == "Would replay 3; replayed nothing (--dry-run)."
    assert "succeeded" not in output
    assert rec.calls == []
    # Each line names the notification once: its id appears once.
    first = output.splitlines()[0]
    assert first == f"would replay orders o-0 COMPLETE #{three[0].pk}"


def test_replaying_an_id_that_does_not_exist_exits_non_zero_and_says_so(
    three: list[Notification], recorder: Any
) -> None:
    rec = recorder()
    with pytest.raises(
        CommandError, match=r"no notification with id 99999 \(pruned, or a typo\?\)"
    ):
        run("bw_notifications_replay", "99999", str(three[0].pk))
    assert len(rec.calls) == 1  # the one that exists still ran
