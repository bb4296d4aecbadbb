"""The endpoint at its edges: a body that cannot be read, a Content-Length that is not a
number, a secret header on the stored-headers list, a dispatch that cannot be scheduled,
and a refusal log that must not grow with every sender. Never a 500; what is
authenticated is kept or honestly refused."""

from __future__ import annotations

import logging
from io import BytesIO, StringIO
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.core.management import call_command

from django_bw_notifications import views
from django_bw_notifications.models import Notification, ProcessingState, RejectedDelivery
from tests.support import basic, payload

pytestmark = pytest.mark.django_db


class _DroppedConnection(BytesIO):
    """A client that goes away after a few bytes of its body."""

    def read(self, size: int | None = -1) -> bytes:
        raise ConnectionResetError(104, "Connection reset by peer")


def _request(body_stream: Any, content_length: str) -> WSGIRequest:
    return WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/bandwidth/notifications/",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/xml",
            "CONTENT_LENGTH": content_length,
            "HTTP_AUTHORIZATION": basic(),
            "wsgi.input": body_stream,
            "wsgi.url_scheme": "http",
        }
    )


def test_a_client_that_goes_away_mid_body_gets_400_and_is_kept() -> None:
    response = views.webhook(_request(_DroppedConnection(), "2000"))
    assert response.status_code == 400
    rejected = RejectedDelivery.objects.get()
    assert rejected.status_code == 400
    assert rejected.reason.startswith("the body could not be read: ")
    assert "Connection reset by peer" in rejected.reason
    assert not Notification.objects.exists()


def test_a_content_length_that_is_not_a_number_is_not_trusted() -> None:
    body = payload("01")
    response = views.webhook(_request(BytesIO(body), "12abc"))
    # Django reads nothing for an unreadable Content-Length; the answer says the body
    # was empty, and the refusal is kept, rather than a 500 or a guess at the length.
    assert response.status_code == 400
    assert RejectedDelivery.objects.get().reason.startswith("the body is empty")


def test_a_secret_header_on_the_stored_list_is_still_never_stored(post: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_STORED_HEADERS = ["User-Agent", "Authorization"]
    assert post(payload("01"), HTTP_USER_AGENT="Bandwidth/1.0").status_code == 200
    assert Notification.objects.get().headers == {"User-Agent": "Bandwidth/1.0"}


def test_a_dispatch_that_cannot_be_scheduled_still_answers_200_and_waits_for_the_sweeper(
    post: Any, settings: Any, caplog: pytest.LogCaptureFixture, recorder: Any
) -> None:
    rec = recorder()
    settings.BW_NOTIFICATIONS_DISPATCH = "tests.no_such_module.enqueue"
    with caplog.at_level(logging.ERROR, logger="django_bw_notifications"):
        assert post(payload("01")).status_code == 200
    notification = Notification.objects.get()
    assert notification.processing_state == ProcessingState.PENDING
    assert f"Could not schedule notification {notification.pk}" in caplog.text
    settings.BW_NOTIFICATIONS_DISPATCH = "inline"
    call_command("bw_notifications_dispatch_pending", "--older-than", "0", stdout=StringIO())
    assert len(rec.calls) == 1
    notification.refresh_from_db()
    assert notification.processing_state == ProcessingState.PROCESSED


def test_the_refusal_log_forgets_senders_past_its_limit(
    post: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    log = views._RefusalLog()
    log._max_keys = 2
    monkeypatch.setattr(views, "_refusals", log)
    with caplog.at_level(logging.WARNING, logger="django_bw_notifications"):
        for username in ("first", "second", "third", "first"):
            assert post(b"<x/>", auth=basic(username, "wrong-password")).status_code == 401
    warned = [r.getMessage() for r in caplog.records if "refused credentials" in r.getMessage()]
    # "first" again is warned about afresh: the third sender cleared what was remembered,
    # so memory stays bounded however many senders try.
    assert [m.split("username ")[1].split(" ")[0] for m in warned] == [
        "'first'",
        "'second'",
        "'third'",
        "'first'",
    ]
    assert len(log._last) <= 2
