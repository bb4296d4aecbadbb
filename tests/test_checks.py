"""System checks: each id fires on the setting it guards, and `check` runs them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

# Django 6.1's model checks ask the database whether it supports JSONField; a project's
# receiver is connected, as in a project that reacts (W013 looks for one).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("project_receiver")]


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


@pytest.mark.parametrize("value", [0, -1, "1MB", 1.5, True])
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


def deploy_ids() -> set[str]:
    return ids(include_deployment_checks=True) - ids()


def test_no_credentials_is_an_error_under_deploy(settings: Any, tmp_path: Any) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    assert "bw_notifications.E009" in deploy_ids()
    settings.BW_NOTIFICATIONS_BASIC_AUTH = [("bandwidth", "Qz7vB2mK9pLr4TnW8yHs")]
    assert deploy_ids() == set()


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        (("bandwidth", "short-Qz7!"), {"bw_notifications.W006"}),
        (("bandwidth", "please-change-me-before-going-live"), {"bw_notifications.W007"}),
        (("bandwidth", "demo-password-change-me"), {"bw_notifications.W007"}),
        (("bandwidth-user-0001", "bandwidth-user-0001"), {"bw_notifications.W007"}),
        (("bw", "secret"), {"bw_notifications.W006", "bw_notifications.W007"}),
    ],
)
def test_weak_or_placeholder_passwords_warn_under_deploy(
    settings: Any, tmp_path: Any, pair: tuple[str, str], expected: set[str]
) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    settings.BW_NOTIFICATIONS_BASIC_AUTH = [pair]
    assert deploy_ids() == expected


def test_disabled_body_cap_warns_under_deploy(settings: Any, tmp_path: Any) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    settings.BW_NOTIFICATIONS_MAX_BODY_SIZE = None
    assert ids() == set()
    assert "bw_notifications.W008" in deploy_ids()


@pytest.mark.parametrize("value", ["10.0.0.0/8", ["10.0.0.0/33"], ["not-an-ip"], [1.5]])
def test_malformed_allow_list_is_an_error(settings: Any, value: Any) -> None:
    settings.BW_NOTIFICATIONS_ALLOWED_IPS = value
    assert ids() == {"bw_notifications.E007"}


@pytest.mark.parametrize(("header", "count"), [("", 1), (5, 1), ("X-Forwarded-For", 0)])
def test_malformed_proxy_settings_are_an_error(settings: Any, header: Any, count: Any) -> None:
    settings.BW_NOTIFICATIONS_CLIENT_IP_HEADER = header
    settings.BW_NOTIFICATIONS_TRUSTED_PROXY_COUNT = count
    assert ids() == {"bw_notifications.E008"}


@pytest.mark.parametrize(
    ("value", "ok"),
    [(10, True), (1, True), (0, False), (-3, False), ("10", False), (True, False), (301, False)],
)
def test_a_time_budget_that_cannot_be_used_is_an_error(settings: Any, value: Any, ok: bool) -> None:
    settings.BW_NOTIFICATIONS_TIME_BUDGET = value
    assert ("bw_notifications.E013" not in ids()) is ok


@pytest.mark.parametrize(
    ("options", "env", "warned"),
    [
        ({}, None, True),  # libpq waits forever
        ({"connect_timeout": 0}, None, True),  # 0 also means forever
        ({"connect_timeout": 30}, None, True),  # longer than half the budget
        ({"connect_timeout": 5}, None, False),
        ({}, "3", False),  # PGCONNECT_TIMEOUT counts
    ],
)
def test_a_postgresql_database_without_a_short_connect_timeout_is_warned_under_deploy(
    monkeypatch: Any,
    settings: Any,
    tmp_path: Any,
    options: dict[str, int],
    env: str | None,
    warned: bool,
) -> None:
    from django.db import connections

    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    configured = connections.settings["default"]
    monkeypatch.setitem(configured, "ENGINE", "django.db.backends.postgresql")
    monkeypatch.setitem(configured, "OPTIONS", options)
    if env is None:
        monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("PGCONNECT_TIMEOUT", env)
    messages = [
        m for m in run_checks(include_deployment_checks=True) if m.id == "bw_notifications.W009"
    ]
    assert bool(messages) is warned
    if warned:
        assert "connect_timeout" in messages[0].msg
        assert "connect_timeout" in (messages[0].hint or "")


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("FAILED_ALERT_AT", 1, True),
        ("FAILED_ALERT_AT", None, True),
        ("FAILED_ALERT_AT", 0, False),
        ("FAILED_ALERT_AT", "5", False),
        ("FAILED_ALERT_AT", True, False),
        ("PROBE_CACHE", 0, True),
        ("PROBE_CACHE", 2.5, True),
        ("PROBE_CACHE", -1, False),
        ("PROBE_CACHE", "10", False),
        ("METRICS_SUBSCRIPTIONS_EVERY", 0, True),
        ("METRICS_SUBSCRIPTIONS_EVERY", 600.0, True),
        ("METRICS_SUBSCRIPTIONS_EVERY", -5, False),
        ("METRICS_SUBSCRIPTIONS_EVERY", "300", False),
        ("METRICS_BASIC_AUTH", [("prometheus", "long-random-secret")], True),
        ("METRICS_BASIC_AUTH", "prometheus:secret", False),
        ("METRICS_BASIC_AUTH", [("prometheus", "")], False),
        ("METRICS_BASIC_AUTH", [("prom:etheus", "long-random-secret")], False),
        ("SILENT_AFTER", 3600, True),
        ("SILENT_AFTER", None, True),
        ("SILENT_AFTER", 0.5, True),
        ("SILENT_AFTER", "1d", False),
        ("SILENT_AFTER", 0, False),
        ("SILENT_AFTER", -60, False),
        ("SILENT_AFTER", float("inf"), False),
        ("SILENT_AFTER", float("nan"), False),
        ("SILENT_AFTER", 10 * 365 * 24 * 3600, True),
        ("SILENT_AFTER", 2**63 - 1, False),  # sys.maxsize as "never": None says that
        ("STUCK_AFTER", 1e300, False),
        ("STUCK_AFTER", 900, True),
        ("STUCK_AFTER", None, False),
        ("STUCK_AFTER", "15m", False),
        ("STUCK_AFTER", 0, False),
        ("STUCK_AFTER", True, False),
    ],
)
def test_operations_settings_of_the_wrong_shape_are_errors(
    settings: Any, name: str, value: Any, ok: bool
) -> None:
    setattr(settings, f"BW_NOTIFICATIONS_{name}", value)
    found = [m for m in run_checks() if m.id == "bw_notifications.E014"]
    assert (not found) is ok
    if found:
        assert f"BW_NOTIFICATIONS_{name}" in found[0].msg


def test_metrics_routed_without_prometheus_client_are_warned(monkeypatch: Any) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    [warning] = [m for m in run_checks() if m.id == "bw_notifications.W010"]
    assert "django-bw-notifications[metrics]" in str(warning.hint)


def test_the_api_routed_without_rest_framework_installed_is_an_error(settings: Any) -> None:
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "rest_framework"]
    [error] = [m for m in run_checks() if m.id == "bw_notifications.E015"]
    assert "bw_notifications_api" in error.msg
    # The metrics render no template: routed alone they need no rest_framework app.
    settings.ROOT_URLCONF = "tests.urls_ops_only"
    assert "bw_notifications.E015" not in ids()


def test_without_the_api_or_metrics_routed_nothing_is_said(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.urls_without_endpoint"
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "rest_framework"]
    assert not {"bw_notifications.E015", "bw_notifications.W010"} & ids()


def test_no_receiver_on_any_notification_signal_is_warned_until_one_is_connected() -> None:
    from django_bw_notifications.signals import (
        health_problem,
        note_added,
        notification_received,
        on_order,
        order_signal,
    )
    from tests.conftest import _project_receiver

    notification_received.disconnect(_project_receiver)

    def warned() -> bool:
        return any(m.id == "bw_notifications.W013" for m in run_checks())

    def receiver(sender: Any, **kwargs: Any) -> None: ...

    assert warned()  # the test project itself connects none
    health_problem.connect(receiver)  # an alert's receiver is not a notification's
    try:
        assert warned()
    finally:
        health_problem.disconnect(receiver)
    for connect, disconnect in (
        (lambda: on_order("portins", "COMPLETE")(receiver), order_signal("portins", "COMPLETE")),
        (lambda: note_added.connect(receiver), note_added),
        (lambda: on_order("madeuporders", strict=False)(receiver), order_signal("madeuporders")),
    ):
        connect()
        try:
            assert not warned()
        finally:
            disconnect.disconnect(receiver)
        assert warned()


def test_a_weak_receiver_whose_function_is_gone_does_not_count_for_w013() -> None:
    import gc

    from django_bw_notifications.signals import notification_received
    from tests.conftest import _project_receiver

    notification_received.disconnect(_project_receiver)

    def short_lived(sender: Any, **kwargs: Any) -> None: ...

    notification_received.connect(short_lived)  # weak, the default
    assert not any(m.id == "bw_notifications.W013" for m in run_checks())
    del short_lived
    gc.collect()
    assert any(m.id == "bw_notifications.W013" for m in run_checks())
