"""What the alerts remember between runs of ``bw_notifications_health``: one row per
problem raised and not yet cleared. Importable, as every model, from
:mod:`django_bw_notifications.models`."""

from __future__ import annotations

from django.db import models


class HealthAlert(models.Model):
    """A problem that was announced (logged at ``ERROR``, ``health_problem`` sent) and has
    not cleared yet; deleted, with ``health_recovered`` sent, when it clears."""

    #: :attr:`~django_bw_notifications.ops.health.Problem.key`: ``stuck``, ``failed``,
    #: ``silent:<account>``.
    key = models.CharField(max_length=100, unique=True)
    account = models.CharField(max_length=64, blank=True)
    #: The message when it was raised (the counts in it may have grown since).
    message = models.TextField()
    raised_at = models.DateTimeField()
    #: The last run of the health check that still found it.
    last_seen_at = models.DateTimeField()

    class Meta:
        app_label = "bw_notifications"
        ordering = ["raised_at"]
        verbose_name = "health alert"

    def __str__(self) -> str:
        return self.message
