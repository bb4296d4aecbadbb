"""System checks stay quiet on good values set explicitly (not only on the defaults), and
report one problem once: a check that cannot read a setting leaves it to the check that
owns it."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.core.checks import run_checks
from django.db import connections

import django_bw_notifications.dispatch

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("project_receiver")]


def ids(**kwargs: Any) -> set[str]:
    return {m.id for m in run_checks(**kwargs) if m.id and m.id.startswith("bw_notifications")}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_BODY_SIZE", 5_000),
        ("REALM", "Acme notifications"),
        ("STORED_HEADERS", ["User-Agent", "X-Request-Id"]),
        ("ALLOWED_IPS", ["203.0.113.0/24", "2001:db8::/32"]),
        ("DISPATCH", "task"),
        ("TASK_BACKEND", "default"),
    ],
)
def test_a_good_value_set_explicitly_raises_nothing(settings: Any, name: str, value: Any) -> None:
    setattr(settings, f"BW_NOTIFICATIONS_{name}", value)
    assert ids() == set()


def test_task_dispatch_with_a_backend_missing_from_tasks_is_an_error(settings: Any) -> None:
    # The counterpart of the good case above: the same mode, a backend not in TASKS.
    settings.BW_NOTIFICATIONS_DISPATCH = "task"
    settings.BW_NOTIFICATIONS_TASK_BACKEND = "elsewhere"
    assert ids() == {"bw_notifications.E011"}


def test_task_dispatch_without_the_tasks_framework_names_what_to_install(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What an environment without django.tasks (6.0+) or the backport looks like: the
    # package's tasks module cannot be imported.
    monkeypatch.setitem(sys.modules, "django_bw_notifications.dispatch.tasks", None)
    monkeypatch.delattr(django_bw_notifications.dispatch, "tasks", raising=False)
    settings.BW_NOTIFICATIONS_DISPATCH = "task"
    [error] = [m for m in run_checks() if m.id == "bw_notifications.E011"]
    assert "neither django.tasks (Django 6.0+) nor the django-tasks backport" in error.msg
    assert "django-bw-notifications[tasks]" in (error.hint or "")


def test_credentials_are_not_required_under_deploy_while_debug_is_on(
    settings: Any, tmp_path: Any
) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    settings.DEBUG = True
    assert "bw_notifications.E009" not in ids(include_deployment_checks=True)


@pytest.fixture
def on_postgresql_without_timeout(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Any):
    """The default database as a PostgreSQL one (settings only; nothing connects)."""
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    configured = connections.settings["default"]
    monkeypatch.setitem(configured, "ENGINE", "django.db.backends.postgresql")
    monkeypatch.setitem(configured, "OPTIONS", {})
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    return configured


def test_a_connect_timeout_that_is_not_a_number_counts_as_none(
    on_postgresql_without_timeout: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(on_postgresql_without_timeout, "OPTIONS", {"connect_timeout": "soon"})
    [warning] = [
        m for m in run_checks(include_deployment_checks=True) if m.id == "bw_notifications.W009"
    ]
    assert "none (libpq waits forever)" in warning.msg


def test_an_unusable_time_budget_is_reported_once_by_its_own_check(
    on_postgresql_without_timeout: dict[str, Any], settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_TIME_BUDGET = "ten seconds"
    found = ids(include_deployment_checks=True)
    assert "bw_notifications.E013" in found
    assert "bw_notifications.W009" not in found  # it needs the budget, and leaves it to E013


def test_a_connect_timeout_of_1_counts_as_libpqs_least_2(
    on_postgresql_without_timeout: dict[str, Any], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    def warned() -> list[str]:
        return [
            m.msg
            for m in run_checks(include_deployment_checks=True)
            if m.id == "bw_notifications.W009"
        ]

    monkeypatch.setitem(on_postgresql_without_timeout, "OPTIONS", {"connect_timeout": 1})
    settings.BW_NOTIFICATIONS_TIME_BUDGET = 3  # half is 1.5: libpq's 2 s is over it
    [message] = warned()
    assert "1 s (libpq waits at least 2 s)" in message
    settings.BW_NOTIFICATIONS_TIME_BUDGET = 4
    assert warned() == []
