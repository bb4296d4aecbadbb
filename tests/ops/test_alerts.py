"""Alerts: ``bw_notifications_health`` tells each problem once when it starts (an ERROR
log record and ``health_problem``) and once when it clears (``health_recovered``), as a
cron job runs it."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_bw_notifications import signals
from django_bw_notifications.models import HealthAlert, Notification
from django_bw_notifications.ops.health import Problem
from tests.support import payload

pytestmark = pytest.mark.django_db

LOGGER = "django_bw_notifications.ops.alerts"


def _run() -> str:
    """One cron run: the command's exit, as 'ok' or its error."""
    try:
        call_command("bw_notifications_health", stdout=StringIO())
    except CommandError as err:
        return str(err)
    return "ok"


def _errors(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= 40]


def test_a_problem_is_told_once_while_it_lasts_and_once_when_it_clears(
    deliver: Any, settings: Any, caplog: Any
) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": {}, "east": {}}
    told: list[tuple[str, Problem]] = []

    def problem(sender: Any, problem: Problem, **kwargs: Any) -> None:
        assert sender is Problem
        told.append(("raised", problem))

    def recovered(sender: Any, problem: Problem, **kwargs: Any) -> None:
        told.append(("cleared", problem))

    signals.health_problem.connect(problem)
    signals.health_recovered.connect(recovered)
    try:
        deliver(payload("01"))
        caplog.set_level(logging.INFO, logger=LOGGER)
        assert "account 'east' has received nothing yet" in _run()
        assert _errors(caplog) == [
            "Bandwidth notifications: account 'east' has received nothing yet"
        ]
        [(what, first)] = told
        assert (what, first.key, first.account) == ("raised", "silent:east", "east")
        # The next runs find it again and stay quiet: one alert, not one per run.
        caplog.clear()
        assert _run() != "ok"
        assert _run() != "ok"
        assert _errors(caplog) == []
        assert len(told) == 1
        assert HealthAlert.objects.get().key == "silent:east"
        # A second problem starts: only it is told.
        row = Notification.objects.latest("id")
        Notification.objects.filter(pk=row.pk).update(processing_state="failed")
        _run()
        assert [p.key for _, p in told] == ["silent:east", "failed"]
        assert "failed in a receiver" in _errors(caplog)[0]
        # Both clear: east hears from Bandwidth, the notification is replayed.
        east = deliver(payload("06"))
        Notification.objects.filter(pk=east.pk).update(account="east")
        Notification.objects.filter(pk=row.pk).update(processing_state="processed")
        caplog.clear()
        assert _run() == "ok"
        assert sorted((w, p.key) for w, p in told[2:]) == [
            ("cleared", "failed"),
            ("cleared", "silent:east"),
        ]
        cleared = [r for r in caplog.records if r.name == LOGGER]
        assert {r.levelno for r in cleared} == {logging.INFO}
        assert not HealthAlert.objects.exists()
        # Healthy runs tell nothing.
        _run()
        assert len(told) == 4
    finally:
        signals.health_problem.disconnect(problem)
        signals.health_recovered.disconnect(recovered)


def test_a_receiver_that_raises_is_logged_and_the_others_still_run(
    deliver: Any, caplog: Any
) -> None:
    got: list[str] = []

    def broken(sender: Any, problem: Problem, **kwargs: Any) -> None:
        raise ConnectionError("Slack is down")

    def mail(sender: Any, problem: Problem, **kwargs: Any) -> None:
        got.append(problem.key)

    signals.health_problem.connect(broken)
    signals.health_problem.connect(mail)
    try:
        row = deliver(payload("01"))
        Notification.objects.filter(pk=row.pk).update(
            processing_state="pending", received_at=timezone.now() - timedelta(hours=2)
        )
        assert "not dispatched" in _run()
    finally:
        signals.health_problem.disconnect(broken)
        signals.health_problem.disconnect(mail)
    assert got == ["stuck"]
    # The traceback once, by Django's django.dispatch; ours names the problem, no repeat.
    raised = [r for r in caplog.records if "the others ran" in r.getMessage()]
    assert [r.getMessage().split(" (")[0] for r in raised] == ["A receiver of health_problem"]
    assert "raised ConnectionError" in raised[0].getMessage()
    assert not raised[0].exc_info
    tracebacks = [r for r in caplog.records if r.exc_info and "Slack is down" in str(r.exc_info[1])]
    assert [r.name for r in tracebacks] == ["django.dispatch"]
    assert HealthAlert.objects.get().key == "stuck"  # told, so not told again


def test_no_alerts_only_looks(deliver: Any, caplog: Any) -> None:
    row = deliver(payload("01"))
    Notification.objects.filter(pk=row.pk).update(processing_state="failed")
    with pytest.raises(CommandError, match="failed in a receiver"):
        call_command("bw_notifications_health", "--no-alerts", stdout=StringIO())
    assert _errors(caplog) == []
    assert not HealthAlert.objects.exists()
    assert "failed in a receiver" in _run()  # the cron run still tells it
    assert len(_errors(caplog)) == 1


def test_a_database_that_cannot_be_read_is_an_error_every_run(caplog: Any) -> None:
    from unittest import mock

    from django.db import OperationalError

    with mock.patch(
        "django_bw_notifications.management.commands.bw_notifications_health.check_health",
        side_effect=OperationalError("connection refused"),
    ):
        for _ in range(2):
            with pytest.raises(CommandError, match="database cannot be read"):
                call_command("bw_notifications_health", stdout=StringIO())
    assert len(_errors(caplog)) == 2


def test_an_ongoing_problem_keeps_its_latest_message_for_the_clearing(deliver: Any) -> None:
    rows = [deliver(payload(name)) for name in ("01", "06", "18")]
    Notification.objects.filter(pk=rows[0].pk).update(processing_state="failed")
    _run()
    assert HealthAlert.objects.get().message.startswith("1 notification(s) failed")
    Notification.objects.filter(pk__in=[r.pk for r in rows]).update(processing_state="failed")
    _run()
    assert HealthAlert.objects.get().message.startswith("3 notification(s) failed")


def test_the_alert_mail_is_the_problem_in_a_few_lines_not_an_error_report(
    deliver: Any, settings: Any, mailoutbox: Any
) -> None:
    import logging
    import warnings

    import django

    from django_bw_notifications.ops.alerts import AlertEmailHandler, logger

    # Django 6.0 takes addresses; 5.2 only (name, address) pairs.
    on_call = "oncall@example.com"
    settings.ADMINS = [on_call] if django.VERSION >= (6, 0) else [("On call", on_call)]
    row = deliver(payload("01"))
    Notification.objects.filter(pk=row.pk).update(processing_state="failed")
    handler = AlertEmailHandler(level=logging.ERROR)
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            # Django 6.1 warns of any mail sent without settings.MAILERS: the host's to set.
            warnings.filterwarnings("ignore", message=".*default mailer")
            for _ in range(2):  # two cron runs, one alert
                with pytest.raises(CommandError):
                    call_command("bw_notifications_health", stdout=StringIO())
    finally:
        logger.removeHandler(handler)
    [sent] = mailoutbox
    assert sent.to == ["oncall@example.com"]
    assert "1 notification(s) failed in a receiver" in sent.subject
    assert "\n" not in sent.subject
    assert "problem: failed" in sent.body
    assert len(sent.body) < 500  # not Django's ~12 KB report with the settings
    assert "SECRET_KEY" not in sent.body
