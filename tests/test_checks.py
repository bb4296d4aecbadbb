"""System checks: each id fires on the setting it guards, and `check` runs them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

# Django 6.1's model checks ask the database whether it supports JSONField.
pytestmark = pytest.mark.django_db


def ids(**kwargs: Any) -> set[str]:
    return {m.id for m in run_checks(**kwargs) if m.id and m.id.startswith("bw_notifications")}


def test_a_good_configuration_is_clean() -> None:
    assert ids() == set()


@pytest.mark.parametrize("value", [None, [], ()])
def test_no_credentials_warns_when_debug_is_off(settings: Any, value: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = value
    assert ids() == {"bw_notifications.W001"}
    settings.DEBUG = True
    assert ids() == set()


def test_unset_credentials_warn_too(settings: Any) -> None:
    del settings.BW_NOTIFICATIONS_BASIC_AUTH
    assert ids() == {"bw_notifications.W001"}


@pytest.mark.parametrize(
    "value",
    [
        "user:pass",
        [("user",)],
        [("user", "")],
        [("", "pw")],
        [("u", 1)],
        "x",
        [["u", "p", "q"]],
        42,
    ],
)
def test_malformed_credentials_are_errors(settings: Any, value: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = value
    assert ids() == {"bw_notifications.E001"}


def test_username_with_colon_is_an_error(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = [("ok", "pw"), ("a:b", "pw")]
    messages = [m for m in run_checks() if m.id == "bw_notifications.E002"]
    assert len(messages) == 1
    assert "entry 1" in messages[0].msg


@pytest.mark.parametrize("value", [0, -1, "1MB", 1.5, True, None])
def test_bad_body_cap_is_an_error(settings: Any, value: Any) -> None:
    settings.BW_NOTIFICATIONS_MAX_BODY_SIZE = value
    assert ids() == {"bw_notifications.E003"}


@pytest.mark.parametrize("value", ["", "line\nbreak", "snow ☃", 5])
def test_realm_that_cannot_be_a_header_is_an_error(settings: Any, value: Any) -> None:
    settings.BW_NOTIFICATIONS_REALM = value
    assert ids() == {"bw_notifications.E004"}


def test_stored_headers_shape_and_secrets(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_STORED_HEADERS = "User-Agent"
    assert ids() == {"bw_notifications.E005"}
    settings.BW_NOTIFICATIONS_STORED_HEADERS = ["User-Agent", "Authorization"]
    assert ids() == {"bw_notifications.W002"}


def test_missing_url_include_warns(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.urls_without_endpoint"
    assert ids() == {"bw_notifications.W003"}


def test_manage_py_check_runs_them(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_MAX_BODY_SIZE = -5
    with pytest.raises(SystemCheckError, match=r"bw_notifications\.E003"):
        call_command("check")


def test_spool_dir_shape_and_writability(settings: Any, tmp_path: Any) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = 42
    assert ids() == {"bw_notifications.E006"}
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path / "new" / "spool")  # creatable
    assert ids() == set()
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(blocker / "spool")
    assert ids() == {"bw_notifications.W004"}


def test_deploy_checks_want_a_spool(settings: Any, tmp_path: Any) -> None:
    assert "bw_notifications.W005" in ids(include_deployment_checks=True)
    assert "bw_notifications.W005" not in ids()
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    assert "bw_notifications.W005" not in ids(include_deployment_checks=True)
