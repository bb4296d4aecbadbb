"""A host project's own record of its telephone numbers, which the cookbook's receivers update."""

from django.db import models


class PhoneNumber(models.Model):
    class Status(models.TextChoices):
        ORDERED = "ordered"
        ACTIVE = "active"
        RELEASED = "released"
        DISCONNECTED = "disconnected"

    e164 = models.CharField(max_length=16, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ORDERED)
    #: The Bandwidth order that bought or ported it, and the one that disconnects it.
    order_id = models.CharField(max_length=255, blank=True, db_index=True)
    disconnect_order_id = models.CharField(max_length=255, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.e164} ({self.status})"
