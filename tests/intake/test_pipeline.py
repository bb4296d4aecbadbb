"""The pipeline's promise, piece by piece, on any database (the deployed faults are in
``test_faults.py``): every declared encoding decodes or is a kept 400; nothing
unexpected is a 500; the answer goes out before any receiver runs; the time budget
turns a stalled database into a spool file; every dispatch, replay and sweep is claimed.
"""

from __future__ import annotations

import codecs
import encodings
import encodings.aliases
import logging
import pkgutil
import time
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from django_bw_notifications import signals
from django_bw_notifications.database import budget
from django_bw_notifications.dispatch import scheduling
from django_bw_notifications.dispatch.receivers import DispatchBusy, dispatch
from django_bw_notifications.intake import pipeline, storage
from django_bw_notifications.models import Notification, ProcessingState, RejectedDelivery
from django_bw_notifications.testing import build_order_notification
from django_bw_notifications.views import WebhookView
from tests.support import basic, on_postgres, other_session, payload

pytestmark = pytest.mark.django_db


def _codec_names() -> list[str]:
    names = set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values())
    names |= {module.name for module in pkgutil.iter_modules(encodings.__path__)}
    usable = set()
    for name in names:
        try:
            usable.add(codecs.lookup(name).name)
        except LookupError:
            continue
    return sorted(usable)


# The names the declaration regex can carry, every one Python knows.
CODECS = [name for name in _codec_names() if name.replace("-", "").replace("_", "").isalnum()]


def _declared(encoding: str, inner: bytes = b"") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>'.encode("ascii")
        + b"<Notification><OrderType>orders</OrderType><Status>COMPLETE</Status>"
        + inner
        + b"<OrderId>enc-1</OrderId></Notification>"
    )


def test_every_declared_encoding_is_stored_or_a_kept_400(post: Any) -> None:
    assert len(CODECS) > 100
    outcomes: dict[int, list[str]] = {}
    for encoding in CODECS:
        # +2D8- is a lone surrogate in UTF-7; \\ud800 one in unicode_escape.
        response = post(_declared(encoding, b"<Note>+2D8- \\ud800</Note>"))
        outcomes.setdefault(response.status_code, []).append(encoding)
        Notification.objects.all().delete()
    assert set(outcomes) <= {200, 400}, outcomes
    assert RejectedDelivery.objects.count() == len(outcomes.get(400, []))
    for name in ("rot-13", "hex", "base64", "zlib", "bz2", "punycode", "utf-7", "unicode-escape"):
        assert name in outcomes[400] or codecs.lookup(name).name in outcomes[400], name
    assert "utf-8" in outcomes[200]


@pytest.mark.parametrize(
    ("encoding", "reason"),
    [
        ("rot13", "not a text encoding"),
        ("zlib", "not a text encoding"),
        ("undefined", "cannot be decoded"),
        ("utf-7", "lone surrogate"),
        ("unicode_escape", "lone surrogate"),
    ],
)
def test_encodings_that_give_no_text_are_refused_with_a_reason(
    post: Any, encoding: str, reason: str
) -> None:
    response = post(_declared(encoding, b"<Note>+2D8- \\ud800</Note>"))
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert bytes(RejectedDelivery.objects.get().body).startswith(b"<?xml")


def test_a_parser_bug_is_a_kept_400_not_a_500(post: Any, monkeypatch: Any, caplog: Any) -> None:
    def broken(body: bytes) -> Any:
        raise IndexError("a bug of ours")

    monkeypatch.setattr(pipeline, "parse_notification", broken)
    response = post(payload("01"))
    assert response.status_code == 400
    assert "IndexError" in response.content.decode()
    assert RejectedDelivery.objects.get().body == payload("01")
    assert "The parser failed" in caplog.text


def test_a_storage_bug_is_spooled_not_a_500(
    post: Any, monkeypatch: Any, tmp_path: Path, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("a bug of ours")

    monkeypatch.setattr(storage, "store", broken)
    assert post(payload("01")).status_code == 200
    assert len(list(tmp_path.glob("*.json"))) == 1


def test_any_other_error_after_authentication_is_a_503_not_a_500(
    post: Any, monkeypatch: Any, caplog: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(pipeline, "accept", broken)
    response = post(payload("01"))
    assert response.status_code == 503
    assert "Unexpected error receiving a delivery" in caplog.text


def broken_enqueue(notification: Notification) -> None:
    """A host's enqueue function whose queue is down (``BW_NOTIFICATIONS_DISPATCH``)."""
    raise ConnectionError("the queue is down")


@pytest.mark.django_db(transaction=True)
def test_a_queue_that_refuses_leaves_it_pending_for_the_sweeper(
    post: Any, settings: Any, recorder: Any, caplog: Any
) -> None:
    # Also the Django 5.2 on_commit(robust=True) trap: a callback without __qualname__
    # made Django's own error logging raise. Stored means 200, whatever the queue does.
    settings.BW_NOTIFICATIONS_DISPATCH = f"{__name__}.broken_enqueue"
    rec = recorder()
    assert post(payload("01")).status_code == 200
    notification = Notification.objects.get()
    assert notification.processing_state == ProcessingState.PENDING
    assert "Could not enqueue notification" in caplog.text
    out = StringIO()
    call_command("bw_notifications_dispatch_pending", "--older-than", "0", stdout=out)
    assert out.getvalue().startswith("Dispatched 1 unfinished")
    assert len(rec.calls) == 1


@pytest.mark.django_db(transaction=True)
def test_receivers_run_only_after_the_answer_has_been_sent(recorder: Any) -> None:
    rec = recorder()
    request = RequestFactory().post(
        reverse("bw_notifications:webhook"),
        data=payload("01"),
        content_type="application/xml",
        HTTP_AUTHORIZATION=basic(),
    )
    response = WebhookView.as_view()(request)
    assert isinstance(response, HttpResponse)
    assert (response.status_code, response.content) == (200, b"OK\n")
    stored = Notification.objects.get()
    assert stored.processing_state == ProcessingState.PENDING
    assert rec.calls == []  # the server has not finished sending yet
    response.close()  # what WSGI and ASGI servers call once the last byte is out
    assert len(rec.calls) == 1
    stored.refresh_from_db()
    assert stored.processing_state == ProcessingState.PROCESSED


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_hangs_does_not_delay_the_answer(connect: Any) -> None:
    connect(signals.notification_received, lambda **kwargs: time.sleep(1.5))
    request = RequestFactory().post(
        reverse("bw_notifications:webhook"),
        data=payload("01"),
        content_type="application/xml",
        HTTP_AUTHORIZATION=basic(),
    )
    started = time.monotonic()
    response = WebhookView.as_view()(request)
    answered = time.monotonic() - started
    response.close()
    assert response.status_code == 200
    assert answered < 1.0  # the 1.5 s receiver ran after, in close()
    assert Notification.objects.get().processing_state == ProcessingState.PROCESSED


@pytest.mark.django_db(transaction=True)
def test_a_spent_budget_spools_instead_of_waiting(
    post: Any, monkeypatch: Any, tmp_path: Path, settings: Any, caplog: Any
) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    monkeypatch.setattr(pipeline, "deadline", lambda started=None: time.monotonic() - 1)
    assert post(payload("01")).status_code == 200
    assert Notification.objects.count() == 0
    assert len(list(tmp_path.glob("*.json"))) == 1
    assert "BudgetSpent" in caplog.text


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_statements_give_up_within_the_budget() -> None:
    from django.db import OperationalError

    with other_session() as other:
        other.execute(f"LOCK TABLE {Notification._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(OperationalError), budget.bounded("default", started + 0.6):
            Notification.objects.count()
        waited = time.monotonic() - started
    assert 0.5 < waited < 3


def test_sqlite_busy_timeout_is_shortened_then_restored() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        with budget.bounded("default", time.monotonic() + 1.2):
            cursor.execute("PRAGMA busy_timeout")
            assert 1000 <= cursor.fetchone()[0] <= 1200
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == 5000


@pytest.mark.django_db(transaction=True)
def test_sqlite_immediate_transactions_wait_for_the_lock_within_the_budget() -> None:
    # With transaction_mode IMMEDIATE (what Django's docs advise for concurrent
    # writers), BEGIN itself waits for the write lock: the shortened busy timeout must
    # already be in force when it is sent.
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    from django.test.utils import CaptureQueriesContext

    before = getattr(connection, "transaction_mode", None)
    connection.transaction_mode = "IMMEDIATE"  # type: ignore[attr-defined]
    try:
        with (
            CaptureQueriesContext(connection) as captured,
            budget.bounded("default", time.monotonic() + 1.2),
        ):
            Notification.objects.count()
    finally:
        connection.transaction_mode = before  # type: ignore[attr-defined]
    sent = [query["sql"] for query in captured]
    assert sent[0].startswith("PRAGMA busy_timeout = 1")
    assert sent[1] == "BEGIN IMMEDIATE"
    assert sent[-1] == "PRAGMA busy_timeout = 5000"


def _stored(order_id: str, **fields: Any) -> Notification:
    return Notification.objects.create(
        order_type="orders", order_id=order_id, fingerprint=order_id, **fields
    )


def test_the_sweeper_takes_what_is_unfinished_and_nothing_else(recorder: Any) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    pending_old = _stored("pending-old", received_at=long_ago)
    _stored("pending-new")
    left_processing = _stored(
        "processing-old",
        received_at=long_ago,
        processing_state=ProcessingState.PROCESSING,
        last_attempt_at=long_ago,
        attempts=1,
    )
    _stored(
        "processing-new",
        received_at=long_ago,
        processing_state=ProcessingState.PROCESSING,
        last_attempt_at=timezone.now(),
        attempts=1,
    )
    _stored("failed", received_at=long_ago, processing_state=ProcessingState.FAILED, attempts=1)
    _stored("done", received_at=long_ago, processing_state=ProcessingState.PROCESSED, attempts=1)
    assert set(scheduling.stuck(300)) == {pending_old, left_processing}
    rec = recorder()
    report = scheduling.sweep(300)
    assert (report.dispatched, report.failed) == (2, 0)
    assert sorted(kw["notification"].order_id for _, kw in rec.calls) == [
        "pending-old",
        "processing-old",
    ]
    assert scheduling.sweep(300).dispatched == 0


def test_replay_only_failed_skips_what_is_no_longer_failed(recorder: Any) -> None:
    failed = _stored("f", processing_state=ProcessingState.FAILED, attempts=1)
    rec = recorder()
    outcome = scheduling.replay(failed.pk, only_failed=True)
    assert outcome is not None
    assert outcome.succeeded
    assert scheduling.replay(failed.pk, only_failed=True) is None  # a double submit
    assert len(rec.calls) == 1
    assert rec.calls[0][1]["replay"] is True
    failed.refresh_from_db()
    assert (failed.processing_state, failed.attempts) == (ProcessingState.PROCESSED, 2)


def test_replay_failed_submitted_twice_runs_each_once(
    admin_client: Client, deliver: Callable[..., Notification], connect: Any, recorder: Any
) -> None:
    failing = [True]

    def sometimes(**kwargs: Any) -> None:
        if failing[0]:
            raise RuntimeError("down")

    connect(signals.notification_received, sometimes)
    deliver(build_order_notification(order_id="one"))
    failing[0] = False
    rec = recorder()
    url = reverse("admin:bw_notifications_notification_replay_failed")
    first = admin_client.post(url, follow=True).content.decode()
    second = admin_client.post(url, follow=True).content.decode()
    assert "Replayed 1: 1 succeeded, 0 failed." in first
    assert "Replayed 0" in second
    assert len(rec.calls) == 1


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_replay_while_another_dispatch_holds_the_claim_is_refused(
    admin_client: Client, recorder: Any
) -> None:
    notification = _stored("held", processing_state=ProcessingState.FAILED, attempts=1)
    rec = recorder()
    with other_session() as other:
        table = Notification._meta.db_table
        other.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [notification.pk])
        assert scheduling.replay(notification.pk) is None
        with pytest.raises(DispatchBusy):
            dispatch(notification, replay=True)
        api = admin_client.post(
            reverse("bw_notifications_api:notification-replay", args=[notification.pk])
        )
        assert api.status_code == 409
        # The admin's two ways say so in words.
        changelist = reverse("admin:bw_notifications_notification_changelist")
        action = admin_client.post(
            changelist,
            {"action": "replay_signals", "_selected_action": [notification.pk]},
            follow=True,
        ).content.decode()
        assert (
            "1 skipped: being replayed by someone else right now, or replayed meanwhile." in action
        )
        page = admin_client.post(
            reverse("admin:bw_notifications_notification_replay_failed"), follow=True
        ).content.decode()
        assert (
            "skipped: being replayed by someone else right now, or replayed meanwhile, or no longer failed"
            in page
        )
    assert rec.calls == []
    assert scheduling.replay(notification.pk) is not None


def test_a_refused_delivery_keeps_every_fact_of_its_arrival(post: Any) -> None:
    response = post(b"<Order/>", HTTP_USER_AGENT="Bandwidth-Notifier")
    assert response.status_code == 400
    rejected = RejectedDelivery.objects.get()
    assert rejected.headers["User-Agent"] == "Bandwidth-Notifier"
    assert rejected.remote_addr == "127.0.0.1"
    assert rejected.content_type.startswith("application/xml")


def test_logging_names_the_outcome(post: Any, caplog: Any) -> None:
    with caplog.at_level(logging.INFO, logger="django_bw_notifications"):
        post(payload("01"))
        post(payload("01"))
    outcomes = [r.outcome for r in caplog.records if hasattr(r, "outcome")]
    assert outcomes == ["stored", "duplicate"]


def test_an_api_replay_resent_with_the_attempts_it_read_runs_once(
    admin_client: Client, recorder: Any
) -> None:
    notification = _stored("resent", processing_state=ProcessingState.FAILED, attempts=1)
    rec = recorder()
    url = reverse("bw_notifications_api:notification-replay", args=[notification.pk])
    assert admin_client.post(f"{url}?attempts=1").status_code == 200
    again = admin_client.post(f"{url}?attempts=1")  # the same request, sent twice
    assert again.status_code == 409
    assert "dispatched again since" in again.json()["detail"]
    assert admin_client.post(f"{url}?attempts=x").status_code == 400
    assert len(rec.calls) == 1
    assert admin_client.post(url).status_code == 200  # without it: a new replay
    assert len(rec.calls) == 2


def test_every_attempt_is_kept_so_a_success_does_not_erase_a_failure(
    deliver: Callable[..., Notification], connect: Any, admin_client: Client
) -> None:
    failing = [True]

    def flaky(**kwargs: Any) -> None:
        if failing[0]:
            raise RuntimeError("CRM down")

    connect(signals.notification_received, flaky)
    notification = deliver(build_order_notification(order_id="flaky"))
    failing[0] = False
    outcome = scheduling.replay(notification.pk)
    assert outcome is not None
    assert outcome.succeeded
    notification.refresh_from_db()
    assert notification.last_error == ""  # the row's current state: fine now
    history = list(notification.dispatch_attempts.values_list("number", "trigger", "outcome"))
    assert history == [(1, "first", "failed"), (2, "replay", "processed")]
    first = notification.dispatch_attempts.get(number=1)
    assert first.failures[0]["error"] == "RuntimeError: CRM down"
    assert "Traceback" in first.failures[0]["traceback"]
    page = admin_client.get(
        reverse("admin:bw_notifications_notification_change", args=[notification.pk])
    ).content.decode()
    assert "RuntimeError: CRM down" in page
    assert "Dispatch history" in page
    api = admin_client.get(
        reverse("bw_notifications_api:notification-detail", args=[notification.pk])
    ).json()
    assert [a["outcome"] for a in api["dispatch_attempts"]] == ["failed", "processed"]
    # Pruned with its notification.
    notification.delete()
    from django_bw_notifications.models import DispatchAttempt

    assert DispatchAttempt.objects.count() == 0
