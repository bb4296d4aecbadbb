"""How notifications look in the API (read-only: the API never changes received data)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ..models import DispatchAttempt, Notification, TelephoneNumber

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
