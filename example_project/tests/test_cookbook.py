"""Every `# cookbook:` block of docs/cookbook.md, run as written and checked."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.core import mail
from django.test import override_settings
from inventory.models import PhoneNumber

from django_bw_notifications.models import Notification, ProcessingState
from django_bw_notifications.signals import all_signals
from django_bw_notifications.testing import (
    build_event_notification,
    build_order_notification,
    post_notification,
)

COOKBOOK = Path(__file__).resolve().parents[2] / "docs" / "cookbook.md"
RECIPES = dict(
    re.findall(r"```python\n# cookbook: (\w+)\n(.*?)```", COOKBOOK.read_text(), flags=re.S)
)

pytestmark = pytest.mark.django_db


def test_the_cookbook_has_its_nine_recipes() -> None:
    assert sorted(RECIPES) == sorted(
        [
            "port_in_complete",
            "activate_ordered_numbers",
            "disconnects",
            "messaging_lost",
            "slow_work_in_a_task",
            "test_a_receiver",
            "behind_a_proxy",
            "rotate_credentials",
            "prune",
            "slack_alerts",
        ]
    )


@pytest.fixture
def recipe() -> Iterator[Callable[[str], types.ModuleType]]:
    """Run a recipe as a module; disconnect its receivers afterwards."""
    loaded: list[types.ModuleType] = []

    def _load(name: str) -> types.ModuleType:
        module = types.ModuleType(f"cookbook_{name}")
        sys.modules[module.__name__] = module  # tasks must be importable by path
        exec(compile(RECIPES[name], f"{COOKBOOK}:{name}", "exec"), module.__dict__)  # noqa: S102
        loaded.append(module)
        return module

    yield _load
    for module in loaded:
        for value in vars(module).values():
            if callable(value):
                for signal in all_signals().values():
                    signal.disconnect(value)
        sys.modules.pop(module.__name__, None)


def test_port_in_complete_activates_numbers(recipe: Any) -> None:
    recipe("port_in_complete")
    post_notification(
        build_order_notification(
            "portins", "COMPLETE", order_id="port-1", numbers=["9195551234", "..."]
        )
    )
    number = PhoneNumber.objects.get()
    assert (number.e164, number.status, number.order_id) == ("+19195551234", "active", "port-1")


def test_ordered_numbers_are_activated_or_released(recipe: Any) -> None:
    recipe("activate_ordered_numbers")
    for e164 in ("+19195550100", "+19195550101", "+19195550102"):
        PhoneNumber.objects.create(e164=e164, order_id="o-1")
    PhoneNumber.objects.create(e164="+19195550200", order_id="o-2")
    post_notification(
        build_order_notification(
            "orders", "PARTIAL", order_id="o-1", numbers=["9195550100", "+19195550101"]
        )
    )
    post_notification(
        build_order_notification("orders", "FAILED", order_id="o-2", numbers=["9195550200"])
    )
    assert dict(PhoneNumber.objects.values_list("e164", "status")) == {
        "+19195550100": "active",
        "+19195550101": "active",
        "+19195550102": "released",
        "+19195550200": "released",
    }


def test_disconnects_without_numbers_are_matched_by_order_id(recipe: Any) -> None:
    recipe("disconnects")
    PhoneNumber.objects.create(e164="+19195550100", status="active", disconnect_order_id="d-1")
    PhoneNumber.objects.create(e164="+19195550101", status="active")
    post_notification(
        build_order_notification("disconnects", "COMPLETE", order_id="d-1", numbers=[])
    )
    assert dict(PhoneNumber.objects.values_list("e164", "status")) == {
        "+19195550100": "disconnected",
        "+19195550101": "active",
    }


def test_messaging_lost_sends_an_alert(recipe: Any) -> None:
    recipe("messaging_lost")
    post_notification(build_event_notification(numbers=["9192345678"]))
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Bandwidth: messaging lost on 9192345678"
    assert mail.outbox[0].to == ["ops@example.com"]


@pytest.mark.skipif(django.VERSION < (6, 0), reason="django.tasks arrived in Django 6.0")
def test_slow_work_runs_in_a_task(recipe: Any) -> None:
    recipe("slow_work_in_a_task")  # the default backend runs tasks immediately
    notification = post_notification(
        build_order_notification("portins", "FOC", order_id="p-7", numbers=["9195551234"])
    )
    assert PhoneNumber.objects.get().order_id == "p-7"
    assert notification.processing_state == ProcessingState.PROCESSED


def test_the_receiver_test_recipe_passes(recipe: Any) -> None:
    recipe("port_in_complete")
    recipe("test_a_receiver").test_port_in_complete_activates_the_numbers(db=None)


def test_behind_a_proxy_keeps_the_proxy_headers(recipe: Any, client: Any) -> None:
    settings_module = recipe("behind_a_proxy")
    with override_settings(
        SECURE_PROXY_SSL_HEADER=settings_module.SECURE_PROXY_SSL_HEADER,
        BW_NOTIFICATIONS_STORED_HEADERS=settings_module.BW_NOTIFICATIONS_STORED_HEADERS,
    ):
        notification = post_notification(
            build_order_notification(),
            client=type(client)(
                headers={
                    "X-Forwarded-For": "203.0.113.9",
                    "X-Request-Id": "req-1",
                    "X-Forwarded-Proto": "https",
                }
            ),
        )
    assert notification.headers["X-Forwarded-For"] == "203.0.113.9"
    assert notification.headers["X-Request-Id"] == "req-1"


def test_rotation_accepts_both_pairs(recipe: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("BW_CALLBACK_PASSWORD_OLD", "old-secret")
    monkeypatch.setenv("BW_CALLBACK_PASSWORD", "new-secret")
    pairs = recipe("rotate_credentials").BW_NOTIFICATIONS_BASIC_AUTH
    with override_settings(BW_NOTIFICATIONS_BASIC_AUTH=pairs):
        post_notification(build_order_notification(), credentials=("bandwidth", "old-secret"))
        post_notification(build_order_notification(), credentials=("bandwidth", "new-secret"))
        with pytest.raises(AssertionError, match="401"):
            post_notification(build_order_notification(), credentials=("bandwidth", "other"))
    assert Notification.objects.count() == 2


def test_prune_deletes_old_notifications_but_keeps_failed_ones(recipe: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    prune = recipe("prune").prune_notifications
    old, old_failed, recent = (post_notification(build_order_notification()) for _ in range(3))
    Notification.objects.filter(pk__in=[old.pk, old_failed.pk]).update(
        received_at=timezone.now() - timedelta(days=100)
    )
    Notification.objects.filter(pk=old_failed.pk).update(processing_state=ProcessingState.FAILED)
    prune()
    assert set(Notification.objects.values_list("pk", flat=True)) == {old_failed.pk, recent.pk}


def test_slack_alerts_post_each_problem_once_and_its_recovery(recipe: Any) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from io import StringIO

    from django.core.management import CommandError, call_command

    posted: list[str] = []

    class Slack(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["text"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Slack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    module = recipe("slack_alerts")
    try:
        with override_settings(SLACK_WEBHOOK_URL=f"http://127.0.0.1:{server.server_port}/hook"):
            failed = post_notification(build_order_notification())
            Notification.objects.filter(pk=failed.pk).update(
                processing_state=ProcessingState.FAILED
            )
            for _ in range(3):  # three cron runs, one alert
                with pytest.raises(CommandError):
                    call_command("bw_notifications_health", stdout=StringIO())
            assert len(posted) == 1
            assert posted[0].startswith(":rotating_light: Bandwidth notifications: 1 ")
            assert "failed in a receiver" in posted[0]
            Notification.objects.filter(pk=failed.pk).update(
                processing_state=ProcessingState.PROCESSED
            )
            call_command("bw_notifications_health", stdout=StringIO())
            call_command("bw_notifications_health", stdout=StringIO())
            assert len(posted) == 2
            # What was wrong, without the advice that no longer applies.
            assert posted[1] == ":white_check_mark: Cleared: 1 notification(s) failed in a receiver"
    finally:
        from django_bw_notifications.signals import health_problem, health_recovered

        health_problem.disconnect(module.problem_to_slack)
        health_recovered.disconnect(module.recovery_to_slack)
        server.shutdown()
        server.server_close()
