"""One row per completed receiver run (see ``apps``)."""

from django.db import models


class ReceiverRun(models.Model):
    notification_id = models.IntegerField()
    order_id = models.CharField(max_length=64)
    replay = models.BooleanField()
    pid = models.IntegerField()

    def __str__(self) -> str:
        return f"run of {self.notification_id} by {self.pid}"
