"""Tables of the anchor endpoints (never part of the package)."""

from django.db import models


class RawDelivery(models.Model):
    """The least a durable receiver can store: the body, in one INSERT."""

    received_at = models.DateTimeField(auto_now_add=True)
    body = models.TextField()


class NaiveNotification(models.Model):
    """What a hurried developer models: a few fields and the body."""

    received_at = models.DateTimeField(auto_now_add=True)
    order_type = models.CharField(max_length=100, blank=True)
    order_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    body = models.TextField()


class NaiveNumber(models.Model):
    notification = models.ForeignKey(NaiveNotification, on_delete=models.CASCADE)
    number = models.CharField(max_length=64)


class RecordedDelivery(models.Model):
    """``floor``: the body stored, then the outcome recorded: two durable writes."""

    received_at = models.DateTimeField(auto_now_add=True)
    body = models.TextField()
    processed = models.BooleanField(default=False)


class RowsDelivery(models.Model):
    """``rows``: the body, and its numbers as rows, in one transaction."""

    received_at = models.DateTimeField(auto_now_add=True)
    body = models.TextField()


class RowsNumber(models.Model):
    """One number of a ``rows`` delivery, indexed as ours are (by id, parent and E.164)."""

    delivery = models.ForeignKey(RowsDelivery, on_delete=models.CASCADE, db_constraint=False)
    number = models.CharField(max_length=64)
    e164 = models.CharField(max_length=16, db_index=True)
