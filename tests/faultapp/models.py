"""One row per completed receiver run (see ``apps``)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class ReceiverRun(models.Model):
    # Spelt out: the app is installed only in the gunicorn deployment's settings, so
    # django-stubs (which reads tests.settings) does not add the default manager itself.
    objects: ClassVar[models.Manager[ReceiverRun]] = models.Manager()

    notification_id = models.IntegerField()
    order_id = models.CharField(max_length=64)
    replay = models.BooleanField()
    pid = models.IntegerField()

    def __str__(self) -> str:
        return f"run of {self.notification_id} by {self.pid}"
