"""Receivers for the fault tests (``test_faults.py``), whose effects are database rows.

A receiver's work counts when its row is committed, so "its receivers completed exactly
once" is a count of rows. What a receiver does is chosen per order id, by a file in
``BW_FAULT_CONTROL_DIR`` named after the order id: ``fail``, ``sleep <seconds>`` (before its
write), ``then-sleep <seconds>`` (after it), or
nothing (write the row at once). Connected in every process that loads this app (the
gunicorn workers and the test process), so the sweeper and the drain run the same ones.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from django.apps import AppConfig


def _behaviour(order_id: str) -> str:
    directory = os.environ.get("BW_FAULT_CONTROL_DIR")
    if not directory or not order_id:
        return ""
    path = Path(directory) / order_id
    return path.read_text().strip() if path.exists() else ""


def record_run(notification: Any, replay: bool = False, **kwargs: Any) -> None:
    from .models import ReceiverRun

    behaviour = _behaviour(notification.order_id)
    if behaviour == "fail":
        raise RuntimeError(f"receiver told to fail for {notification.order_id}")
    if behaviour.startswith("sleep "):
        time.sleep(float(behaviour.split()[1]))
    ReceiverRun.objects.create(
        notification_id=notification.pk,
        order_id=notification.order_id,
        replay=replay,
        pid=os.getpid(),
    )
    if behaviour.startswith("then-sleep "):  # its writes done, then slow
        time.sleep(float(behaviour.split()[1]))


def next_receiver(**kwargs: Any) -> None:
    """A second receiver that does nothing: the dispatch opens a savepoint for it."""


class FaultAppConfig(AppConfig):
    name = "tests.faultapp"
    label = "bw_test_faultapp"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from django_bw_notifications import signals

        signals.notification_received.connect(record_run, dispatch_uid="bw-fault-record")
        signals.notification_received.connect(next_receiver, dispatch_uid="bw-fault-next")
