"""How notifications, orders and numbers look in the API (read-only: the API never
changes received data or the state kept from it)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ..models import (
    AccountNumber,
    AccountNumberChange,
    DispatchAttempt,
    Notification,
    Order,
    OrderChange,
    TelephoneNumber,
)

_SUMMARY_FIELDS = (
    "id",
    "received_at",
    "subscription_id",
    "order_type",
    "order_id",
    "customer_order_id",
    "status",
    "message",
    "note",
    "event_type",
    "last_modified_date",
    "last_modified_date_text",
    "actual_foc_date",
    "actual_foc_date_text",
    "is_stale",
    "telephone_number_count",
    "account",
    "source",
    "processing_state",
    "attempts",
    "last_attempt_at",
    "duplicate_count",
)


class TelephoneNumberSerializer(serializers.ModelSerializer[TelephoneNumber]):
    """One number: as sent, in E.164 form (empty when it has none), and its list."""

    class Meta:
        model = TelephoneNumber
        fields = ("number", "e164", "kind")
        read_only_fields = fields


class NotificationSummarySerializer(serializers.ModelSerializer[Notification]):
    """A notification in a list: every parsed field and its processing state."""

    url = serializers.HyperlinkedIdentityField(view_name="bw_notifications_api:notification-detail")

    class Meta:
        model = Notification
        fields: tuple[str, ...] = ("url", *_SUMMARY_FIELDS)
        read_only_fields: tuple[str, ...] = fields


class DispatchAttemptSerializer(serializers.ModelSerializer[DispatchAttempt]):
    """One dispatch of the receivers: when, why, and what failed (with tracebacks)."""

    class Meta:
        model = DispatchAttempt
        fields = (
            "number",
            "trigger",
            "started_at",
            "finished_at",
            "outcome",
            "receivers_called",
            "failures",
        )
        read_only_fields = fields


class NotificationDetailSerializer(NotificationSummarySerializer):
    """One notification: the summary, its numbers, unknown elements, body, last error and
    every dispatch attempt."""

    telephone_numbers = TelephoneNumberSerializer(many=True, read_only=True)
    dispatch_attempts = DispatchAttemptSerializer(many=True, read_only=True)

    class Meta(NotificationSummarySerializer.Meta):
        fields = (
            *NotificationSummarySerializer.Meta.fields,
            "telephone_numbers",
            "extra",
            "raw_body",
            "last_error",
            "dispatch_attempts",
        )
        read_only_fields = fields


class ReplayResultSerializer(serializers.Serializer[Any]):
    """What a replay did: receivers called, and the ones that raised."""

    notification = serializers.IntegerField()
    succeeded = serializers.BooleanField()
    receivers_called = serializers.IntegerField()
    failures = serializers.ListField(child=serializers.DictField())


# --- the state: the order book and the number inventory -----------------------------


class OrderChangeSerializer(serializers.ModelSerializer[OrderChange]):
    """One change of an order's status (or FOC date) and the notification that made it."""

    class Meta:
        model = OrderChange
        fields = ("previous_status", "new_status", "changed_at", "notification")
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer[Order]):
    """One order as its notifications told it (the order book)."""

    url = serializers.HyperlinkedIdentityField(view_name="bw_notifications_api:order-detail")

    class Meta:
        model = Order
        fields: tuple[str, ...] = (
            "url",
            "id",
            "account",
            "order_type",
            "order_id",
            "status",
            "status_since",
            "customer_order_id",
            "actual_foc_date",
            "first_notified_at",
            "last_notified_at",
            "closed",
        )
        read_only_fields: tuple[str, ...] = fields


class OrderDetailSerializer(OrderSerializer):
    """An order with its changes, oldest first (its notifications: ``timeline/``)."""

    changes = OrderChangeSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = (*OrderSerializer.Meta.fields, "changes")
        read_only_fields = fields


class AccountNumberChangeSerializer(serializers.ModelSerializer[AccountNumberChange]):
    """One change of a number's state or ``MESSAGING_LOST`` flag."""

    class Meta:
        model = AccountNumberChange
        fields = ("previous_state", "new_state", "messaging_lost", "changed_at", "notification")
        read_only_fields = fields


class AccountNumberSerializer(serializers.ModelSerializer[AccountNumber]):
    """One number of the inventory: its state, since when, and the order that set it."""

    url = serializers.HyperlinkedIdentityField(view_name="bw_notifications_api:number-detail")

    class Meta:
        model = AccountNumber
        fields: tuple[str, ...] = (
            "url",
            "id",
            "account",
            "e164",
            "state",
            "state_since",
            "order_type",
            "order_id",
            "messaging_lost",
            "messaging_lost_at",
        )
        read_only_fields: tuple[str, ...] = fields


class AccountNumberDetailSerializer(AccountNumberSerializer):
    """A number with its history, oldest first."""

    changes = AccountNumberChangeSerializer(many=True, read_only=True)

    class Meta(AccountNumberSerializer.Meta):
        fields = (*AccountNumberSerializer.Meta.fields, "changes")
        read_only_fields = fields
