"""HTTP Basic with Bandwidth's challenge flow, rotation, and no leaks."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from django_bw_notifications.intake.auth import challenge, credentials_accepted
from django_bw_notifications.models import Notification, RejectedDelivery
from tests.support import PASSWORD, USERNAME, basic, payload

pytestmark = pytest.mark.django_db


def _b64(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


def test_first_request_without_credentials_gets_a_challenge_then_the_retry_is_stored(
    post: Any,
) -> None:
    first = post(payload("01"), auth=None)
    assert first.status_code == 401
    assert first["WWW-Authenticate"].startswith('Basic realm="Bandwidth notifications"')
    assert Notification.objects.count() == 0
    second = post(payload("01"))
    assert second.status_code == 200
    assert Notification.objects.count() == 1


def test_credentials_on_the_first_request_are_accepted(post: Any) -> None:
    assert post(payload("01")).status_code == 200


def test_realm_is_configurable(post: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_REALM = 'acme "numbers"'
    response = post(payload("01"), auth=None)
    assert response["WWW-Authenticate"] == 'Basic realm="acme \\"numbers\\"", charset="UTF-8"'


@pytest.mark.parametrize(
    "header",
    [
        basic(USERNAME, "wrong"),
        basic("wrong", PASSWORD),
        basic(USERNAME, PASSWORD + "x"),
        basic(USERNAME.upper(), PASSWORD),
        f"Bearer {PASSWORD}",
        "Basic",
        "Basic ",
        "Basic !!!not-base64!!!",
        _b64(b"no-colon-here"),
        _b64(b"bandwidth:\xff\xfe"),
        "Basic " + "A" * 100_000,
        "Digest username=bandwidth",
    ],
)
def test_wrong_or_malformed_credentials_get_the_challenge_and_nothing_is_read(
    post: Any, header: str
) -> None:
    response = post(b"<garbage that would be a 400", auth=header)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response
    assert Notification.objects.count() == RejectedDelivery.objects.count() == 0


def test_scheme_name_is_case_insensitive(post: Any) -> None:
    assert post(payload("01"), auth=basic().replace("Basic", "bAsIc")).status_code == 200


def test_any_configured_pair_is_accepted_for_rotation(post: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = [("old", "old-password"), ("new", "new-password")]
    assert post(payload("01"), auth=basic("old", "old-password")).status_code == 200
    assert post(payload("02"), auth=basic("new", "new-password")).status_code == 200
    assert post(payload("03"), auth=basic("old", "new-password")).status_code == 401


def test_password_may_contain_colons_and_unicode(post: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = [("bw", "pa:ss:wörd")]
    assert post(payload("01"), auth=basic("bw", "pa:ss:wörd")).status_code == 200


def test_without_configured_credentials_anyone_may_post(post: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    assert post(payload("01"), auth=None).status_code == 200


def test_every_pair_is_compared_even_after_a_match(monkeypatch: Any) -> None:
    from django_bw_notifications.intake import auth

    compared: list[str] = []

    def spy(a: str, b: str) -> bool:
        compared.append(b)
        return a == b

    monkeypatch.setattr(auth, "constant_time_compare", spy)
    pairs = [("a", "1"), ("b", "2"), ("c", "3")]
    assert credentials_accepted(basic("a", "1"), pairs)
    assert compared == ["a", "1", "b", "2", "c", "3"]


def test_authorization_is_never_logged_stored_or_echoed(post: Any, caplog: Any) -> None:
    token = basic().split()[1]
    with caplog.at_level(logging.DEBUG):
        responses = [
            post(payload("01")),
            post(b"<bad", auth=basic()),
            post(payload("02"), auth=basic(USERNAME, "nope")),
        ]
    for response in responses:
        assert token.encode() not in response.content
        assert all(token not in value for value in response.headers.values())
    assert token not in caplog.text
    assert PASSWORD not in caplog.text
    for rejected in RejectedDelivery.objects.all():
        assert "Authorization" not in rejected.headers
    for notification in Notification.objects.all():
        assert "Authorization" not in notification.headers


def test_challenge_escapes_the_realm() -> None:
    assert challenge('a\\b"c') == 'Basic realm="a\\\\b\\"c", charset="UTF-8"'


def test_challenges_are_logged_at_debug_only(post: Any, caplog: Any) -> None:
    with caplog.at_level(logging.DEBUG):
        post(payload("01"), auth=None)
    levels = {record.levelno for record in caplog.records}
    assert levels == {logging.DEBUG}
    assert "401 challenge" in caplog.text
