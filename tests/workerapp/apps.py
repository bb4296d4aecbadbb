import time
from typing import Any

from django.apps import AppConfig


def slow_receiver(**kwargs: Any) -> None:
    time.sleep(0.02)


class WorkerAppConfig(AppConfig):
    name = "tests.workerapp"
    label = "bw_test_workerapp"

    def ready(self) -> None:
        from django_bw_notifications import signals

        signals.notification_received.connect(slow_receiver, dispatch_uid="bw-test-slow")
