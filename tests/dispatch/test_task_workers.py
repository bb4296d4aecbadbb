"""Two real task workers (django-tasks-db's ``db_worker`` on PostgreSQL) process 1,000
notifications posted to a live server exactly once, with one worker killed on the way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from django_bw_notifications.models import Notification, ProcessingState
from django_bw_notifications.testing import build_order_notification
from tests.support import basic, on_postgres

pytestmark = [on_postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
COUNT = 1000


def start_worker(name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_worker",
        "WORKER_DB_NAME": connection.settings_dict["NAME"],
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "django",
            "db_worker",
            "--interval",
            "0.05",
            "--no-startup-delay",
            "--worker-id",
            name,
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def processed() -> int:
    return Notification.objects.filter(processing_state=ProcessingState.PROCESSED).count()


def wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_two_workers_process_every_notification_once_despite_a_kill(live_server: Any) -> None:
    url = live_server.url + reverse("bw_notifications:webhook")
    bodies = [build_order_notification(order_id=f"queue-{i}") for i in range(COUNT)]

    def send(body: bytes) -> int:
        request = urllib.request.Request(
            url,
            data=body,
            headers={"Content-Type": "application/xml", "Authorization": basic()},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)

    with override_settings(
        BW_NOTIFICATIONS_DISPATCH="task",
        TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
    ):
        workers = [start_worker("w1"), start_worker("w2")]
        try:
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(send, bodies))
            assert statuses == [200] * COUNT
            # Kill one worker mid-run: whatever it was dispatching rolls back.
            assert wait_for(lambda: processed() >= COUNT // 4, 120)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait(timeout=10)
            assert processed() < COUNT
            # The survivor drains the queue. A task the killed worker had claimed stays
            # claimed by it (one at most: a worker runs one task at a time), and its
            # notification is pending again: the cron command enqueues it anew.
            assert wait_for(lambda: processed() >= COUNT - 1, 120), processed()
            stuck = Notification.objects.filter(processing_state=ProcessingState.PENDING)
            assert stuck.count() <= 1
            call_command("bw_notifications_dispatch_pending", "--older-than", "0")
            assert wait_for(lambda: processed() == COUNT, 120), processed()
        finally:
            for worker in workers:
                worker.kill()
                worker.wait(timeout=10)

    assert Notification.objects.count() == COUNT
    # Exactly once: every notification was dispatched one time, none twice.
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}
