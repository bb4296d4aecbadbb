"""The state the notifications describe: the order book and the number inventory.

One :class:`Order` per (account, order type, order id) and one :class:`AccountNumber`
per (account, E.164 number), kept by :mod:`django_bw_notifications.state.book` inside the
dispatch transaction of each notification, with their histories
(:class:`OrderChange`, :class:`AccountNumberChange`). Rebuilt from the stored
notifications by ``bw_notifications_rebuild_state``. Importable, as every model, from
:mod:`django_bw_notifications.models`.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from ..parsing import MAX_LENGTHS


class OrderQuerySet(models.QuerySet["Order"]):
    """How orders are found: the admin's board and the REST API ask here."""

    def open(self) -> OrderQuerySet:
        """Orders whose status is not final for their type."""
        return self.filter(closed=False)

    def quiet_since(self, moment: object) -> OrderQuerySet:
        """Open orders with no news since ``moment`` (an aware datetime)."""
        return self.open().filter(last_notified_at__lt=moment)


class Order(models.Model):
    """One order of one account, as its notifications told it."""

    account = models.CharField(max_length=64, blank=True, db_index=True)
    #: Bandwidth's spelling of the first notification (names compare case-insensitively).
    order_type = models.CharField(max_length=MAX_LENGTHS["OrderType"])
    order_id = models.CharField(max_length=MAX_LENGTHS["OrderId"])
    #: The latest status by Bandwidth's ``LastModifiedDate`` (arrival where absent): an
    #: older notification that arrives late never moves it back.
    status = models.CharField(max_length=MAX_LENGTHS["Status"])
    #: When Bandwidth set :attr:`status` (its ``LastModifiedDate``, else our arrival).
    status_since = models.DateTimeField()
    customer_order_id = models.CharField(
        max_length=MAX_LENGTHS["CustomerOrderId"], blank=True, db_index=True
    )
    actual_foc_date = models.DateTimeField(null=True, blank=True, verbose_name="actual FOC date")
    first_notified_at = models.DateTimeField()
    last_notified_at = models.DateTimeField(db_index=True)
    #: True once :attr:`status` is final for the order type (``catalog``).
    closed = models.BooleanField(default=False)

    objects = OrderQuerySet.as_manager()

    class Meta:
        app_label = "bw_notifications"
        ordering = ["closed", "-last_notified_at"]
        constraints = [
            models.UniqueConstraint(
                "account", Lower("order_type"), "order_id", name="bw_order_identity_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["closed", "-last_notified_at"], name="bw_order_board_idx"),
            models.Index(fields=["order_id"], name="bw_order_order_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_type} {self.order_id}: {self.status}"


class OrderChange(models.Model):
    """One change of an order's status (or FOC date), and the notification that made it."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="changes", db_constraint=False
    )
    notification = models.ForeignKey(
        "bw_notifications.Notification",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,  # as TelephoneNumber's: no lock on the parent per write
        related_name="order_changes",
    )
    previous_status = models.CharField(max_length=MAX_LENGTHS["Status"], blank=True)
    new_status = models.CharField(max_length=MAX_LENGTHS["Status"])
    #: When Bandwidth made it (the notification's moment).
    changed_at = models.DateTimeField()

    class Meta:
        app_label = "bw_notifications"
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.previous_status or '(new)'} → {self.new_status}"


class NumberState(models.TextChoices):
    """Where a number of the account stands (open to more values)."""

    IN_SERVICE = "in_service", "In service"
    DISCONNECTED = "disconnected", "Disconnected"
    PORTED_OUT = "ported_out", "Ported out"
    #: Known only from an event (``MESSAGING_LOST``): no order has set its state yet.
    UNKNOWN = "unknown", "Unknown"


class AccountNumberQuerySet(models.QuerySet["AccountNumber"]):
    """How numbers are found."""

    def typed_as(self, typed: str) -> AccountNumberQuerySet:
        """The number typed any way (``919-555-0177``, ``+1 919 555 0177``…)."""
        from ..parsing import typed_number_forms

        return self.filter(e164__in=sorted(typed_number_forms(typed)))

    def in_service(self) -> AccountNumberQuerySet:
        """Numbers the account has in service."""
        return self.filter(state=NumberState.IN_SERVICE)


class AccountNumber(models.Model):
    """One telephone number of one account, as the notifications left it."""

    account = models.CharField(max_length=64, blank=True)
    e164 = models.CharField(max_length=16, verbose_name="E.164")
    state = models.CharField(max_length=16, choices=NumberState, db_index=True)
    #: The order that set ``state`` ("" for a number known only from an event).
    order_type = models.CharField(max_length=MAX_LENGTHS["OrderType"], blank=True)
    order_id = models.CharField(max_length=MAX_LENGTHS["OrderId"], blank=True)
    #: When Bandwidth set ``state`` (the notification's moment).
    state_since = models.DateTimeField()
    #: A ``MESSAGING_LOST`` event hit it since it was last put in service.
    messaging_lost = models.BooleanField(default=False)
    messaging_lost_at = models.DateTimeField(null=True, blank=True)

    objects = AccountNumberQuerySet.as_manager()

    class Meta:
        app_label = "bw_notifications"
        ordering = ["account", "e164"]
        constraints = [
            models.UniqueConstraint(fields=["account", "e164"], name="bw_number_identity_uniq"),
        ]
        indexes = [
            models.Index(fields=["e164"], name="bw_number_e164_idx"),
            models.Index(fields=["order_id"], name="bw_number_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.e164} ({self.state})"


class AccountNumberChange(models.Model):
    """One change of a number: its state, or its ``MESSAGING_LOST`` flag."""

    number = models.ForeignKey(
        AccountNumber, on_delete=models.CASCADE, related_name="changes", db_constraint=False
    )
    notification = models.ForeignKey(
        "bw_notifications.Notification",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,  # as TelephoneNumber's: no lock on the parent per write
        related_name="number_changes",
    )
    #: "" for a number seen for the first time.
    previous_state = models.CharField(max_length=16, blank=True)
    new_state = models.CharField(max_length=16)
    #: The flag after the change.
    messaging_lost = models.BooleanField(default=False)
    changed_at = models.DateTimeField()

    class Meta:
        app_label = "bw_notifications"
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.previous_state or '(new)'} → {self.new_state}"
