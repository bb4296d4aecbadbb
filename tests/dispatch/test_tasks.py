"""Task mode: dispatch enqueued on Django's Tasks framework, exactly once, with retries.

These use the dummy backend (it records what is enqueued) and run the task function
themselves; ``test_task_workers.py`` runs real workers on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from django_bw_notifications import signals
from django_bw_notifications.dispatch.receivers import claim_and_dispatch
from django_bw_notifications.models import Notification, ProcessingState
from django_bw_notifications.testing import build_order_notification
from tests.settings import TASKS_PACKAGE
from tests.support import notification_xml

pytestmark = pytest.mark.django_db

tasks = pytest.importorskip("django_bw_notifications.dispatch.tasks")


@pytest.fixture
def task_mode() -> Iterator[list[Any]]:
    """Task mode on the dummy backend; yields the list of enqueued task results."""
    with override_settings(BW_NOTIFICATIONS_DISPATCH="task", BW_NOTIFICATIONS_TASK_MAX_ATTEMPTS=3):
        backend = tasks.task_backends["default"]
        backend.clear()
        yield backend.results
        backend.clear()


@pytest.fixture
def calls() -> Iterator[list[int]]:
    seen: list[int] = []

    def receiver(notification: Notification, **kwargs: Any) -> None:
        seen.append(notification.pk)

    signals.notification_received.connect(receiver, weak=False)
    yield seen
    signals.notification_received.disconnect(receiver)


@pytest.fixture
def failing() -> Iterator[Callable[[], bool]]:
    def boom(**kwargs: Any) -> None:
        raise RuntimeError("CRM down")

    signals.notification_received.connect(boom, weak=False)
    yield lambda: signals.notification_received.disconnect(boom)
    signals.notification_received.disconnect(boom)


def test_the_request_only_enqueues(
    post: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
    task_mode: list[Any],
    calls: list[int],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert post(notification_xml()).status_code == 200
    notification = Notification.objects.get()
    # No receiver ran in the request: a receiver that sleeps cannot slow the endpoint.
    assert calls == []
    assert notification.processing_state == ProcessingState.PENDING
    [enqueued] = task_mode
    assert enqueued.args == [notification.pk, 0]
    assert enqueued.task.func is tasks.dispatch_notification.func

    assert tasks.dispatch_notification.call(notification.pk, 0) == "processed"
    assert calls == [notification.pk]
    # The same task again (a redelivered message, a second worker): nothing happens.
    assert tasks.dispatch_notification.call(notification.pk, 0) == "skipped"
    notification.refresh_from_db()
    assert (notification.processing_state, notification.attempts) == ("processed", 1)
    assert calls == [notification.pk]


def test_failures_are_retried_with_backoff_then_left_for_replay(
    post: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
    task_mode: list[Any],
    failing: Callable[[], None],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        post(notification_xml())
    pk = Notification.objects.get().pk
    delays = []
    for attempt in range(3):
        before = timezone.now()
        assert tasks.dispatch_notification.call(pk, attempt) == "failed"
        if attempt < 2:
            retry = task_mode[-1]
            assert retry.args == [pk, attempt + 1]
            delays.append(retry.task.run_after - before)
    assert len(task_mode) == 3  # the first task and two retries; the third failure stops
    assert timedelta(seconds=29) < delays[0] <= timedelta(seconds=31)
    assert timedelta(seconds=59) < delays[1] <= timedelta(seconds=61)
    notification = Notification.objects.get()
    assert (notification.processing_state, notification.attempts) == ("failed", 3)
    assert "CRM down" in notification.last_error
    # A stale retry of an earlier attempt finds nothing to do.
    assert tasks.dispatch_notification.call(pk, 1) == "skipped"
    failing()
    assert tasks.dispatch_notification.call(pk, 3) == "processed"


def test_a_copy_of_a_failed_notification_enqueues_a_retry(
    post: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
    task_mode: list[Any],
    failing: Callable[[], None],
) -> None:
    body = notification_xml()
    with django_capture_on_commit_callbacks(execute=True):
        post(body)
    pk = Notification.objects.get().pk
    tasks.dispatch_notification.call(pk, 0)
    task_mode.clear()
    failing()
    with django_capture_on_commit_callbacks(execute=True):
        post(body)  # Bandwidth's copy
    assert [r.args for r in task_mode] == [[pk, 1]]
    with django_capture_on_commit_callbacks(execute=True):
        post(notification_xml(order_id="other"))
    assert len(task_mode) == 2


def test_claims_are_conditional() -> None:
    from django_bw_notifications.testing import post_notification

    with override_settings(BW_NOTIFICATIONS_DISPATCH="task"):
        notification = post_notification(build_order_notification(), dispatch=False)
    assert claim_and_dispatch(notification.pk, attempt=1) is None  # not that attempt
    outcome = claim_and_dispatch(notification.pk, attempt=0)
    assert outcome is not None
    assert outcome.succeeded
    assert claim_and_dispatch(notification.pk, attempt=0) is None
    assert claim_and_dispatch(999_999, attempt=0) is None


def test_the_testing_helper_runs_receivers_in_task_mode_too(
    task_mode: list[Any], calls: list[int]
) -> None:
    from django_bw_notifications.dispatch.tasks import dispatch_notification
    from django_bw_notifications.testing import post_notification

    notification = post_notification(build_order_notification())
    assert calls == [notification.pk]
    assert notification.processing_state == ProcessingState.PROCESSED
    # The task the request queued, run later by a real worker, finds it done.
    [queued] = task_mode
    assert dispatch_notification.call(*queued.args) == "skipped"
    assert calls == [notification.pk]


def run(*args: str) -> str:
    out = StringIO()
    call_command("bw_notifications_dispatch_pending", *args, stdout=out)
    return out.getvalue()


def test_dispatch_pending_recovers_what_was_never_dispatched(calls: list[int]) -> None:
    stuck = [
        Notification.objects.create(
            order_type="orders", fingerprint=str(i), received_at=timezone.now() - timedelta(hours=1)
        )
        for i in range(3)
    ]
    Notification.objects.create(order_type="orders", fingerprint="recent")
    assert run().startswith("Dispatched 3 unfinished notifications (0 failed")
    assert sorted(calls) == [n.pk for n in stuck]
    assert run().startswith("Dispatched 0 unfinished notifications (0 failed")
    assert "Dispatched 1" in run("--older-than", "0")


def test_dispatch_pending_in_task_mode_dispatches_itself(
    task_mode: list[Any], calls: list[int]
) -> None:
    # A queue that lost the task is why it is stuck: the sweeper does not rely on it.
    old = timezone.now() - timedelta(hours=1)
    stuck = Notification.objects.create(order_type="orders", fingerprint="a", received_at=old)
    assert run().startswith("Dispatched 1 unfinished")
    assert calls == [stuck.pk]
    assert task_mode == []
    stuck.refresh_from_db()
    assert (stuck.processing_state, stuck.attempts) == (ProcessingState.PROCESSED, 1)


def test_dispatch_pending_refuses_a_negative_age() -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="0 or more"):
        run("--older-than", "-1")


@pytest.mark.parametrize(
    ("settings", "check_id"),
    [
        ({"BW_NOTIFICATIONS_DISPATCH": "celery"}, "bw_notifications.E010"),
        (
            {"BW_NOTIFICATIONS_DISPATCH": "task", "BW_NOTIFICATIONS_TASK_BACKEND": "nope"},
            "bw_notifications.E011",
        ),
    ],
)
def test_dispatch_settings_are_checked(settings: dict[str, str], check_id: str) -> None:
    from django.core.checks import run_checks

    with override_settings(**settings):
        ids = {message.id for message in run_checks()}
    assert check_id in ids


queued: list[int] = []


def enqueue_on_my_queue(notification: Notification) -> None:
    """A host's own enqueuer (BW_NOTIFICATIONS_DISPATCH = this function's dotted path)."""
    queued.append(notification.pk)


def test_a_dotted_path_enqueues_on_the_hosts_own_queue(
    post: Callable[..., Any], django_capture_on_commit_callbacks: Any, calls: list[int]
) -> None:
    queued.clear()
    with override_settings(
        BW_NOTIFICATIONS_DISPATCH="tests.dispatch.test_tasks.enqueue_on_my_queue"
    ):
        with django_capture_on_commit_callbacks(execute=True):
            post(notification_xml())
        from django.core.checks import run_checks

        assert "bw_notifications.E010" not in {m.id for m in run_checks()}
    notification = Notification.objects.get()
    assert (queued, calls) == ([notification.pk], [])
    # What the host's queue worker then calls:
    claim_and_dispatch(notification.pk, notification.attempts)
    assert calls == [notification.pk]


@pytest.mark.parametrize(
    ("backend", "says"),
    [
        (
            {"BACKEND": "tests.dispatch.foreign_backend.OtherFrameworkBackend"},
            "backend tests.dispatch.foreign_backend.OtherFrameworkBackend is not a",
        ),
        (
            {"BACKEND": f"{TASKS_PACKAGE}.backends.dummy.DummyBackend", "QUEUES": ["other"]},
            "cannot run the dispatch task: Queue 'default' is not valid for backend",
        ),
        ({"BACKEND": "tests.dispatch.no_such_module.Backend"}, "cannot be loaded"),
    ],
)
def test_a_backend_that_could_never_run_the_task_is_e011(
    backend: dict[str, Any], says: str
) -> None:
    from django_bw_notifications.checks import check_dispatch

    # Our check alone: Django 6's own check of TASKS stumbles on such backends first.
    with override_settings(BW_NOTIFICATIONS_DISPATCH="task", TASKS={"default": backend}):
        [error] = [m for m in check_dispatch() if m.id == "bw_notifications.E011"]
    assert says in error.msg
    assert "docs/scale.md" in str(error.hint)


def test_a_backend_of_this_framework_on_a_listed_queue_passes_e011() -> None:
    from django_bw_notifications.checks import check_dispatch

    backend = {"BACKEND": f"{TASKS_PACKAGE}.backends.dummy.DummyBackend", "QUEUES": ["bw"]}
    with override_settings(
        BW_NOTIFICATIONS_DISPATCH="task",
        BW_NOTIFICATIONS_TASK_QUEUE="bw",
        TASKS={"default": backend},
    ):
        assert check_dispatch() == []
