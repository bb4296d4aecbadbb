"""Read-only admin for received notifications and refused deliveries.

Received data is evidence: nobody adds or edits it here. Deleting is for superusers.
Replaying signals needs the ``bw_notifications.replay_notification`` permission.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from .dispatch import dispatch
from .models import Notification, RejectedDelivery, TelephoneNumber
from .parsing import to_e164


class _ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    show_full_result_count = False  # no COUNT(*) over millions of rows per page

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


class TelephoneNumberInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TelephoneNumber
    fields = ("number", "e164", "kind")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(_ReadOnlyAdmin):
    """Who sent what, when, and whether our receivers handled it."""

    list_display = (
        "received_at",
        "order_type",
        "status",
        "event_type",
        "order_id",
        "customer_order_id",
        "telephone_number_count",
        "processing_state",
        "duplicate_count",
    )
    list_filter = ("processing_state", "is_stale", "order_type", "status", "event_type")
    date_hierarchy = "received_at"
    search_fields = ("=order_id", "=customer_order_id", "=subscription_id")
    inlines = (TelephoneNumberInline,)
    actions = ("replay_signals",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "received_at",
                    "order_type",
                    "status",
                    "event_type",
                    "order_id",
                    "customer_order_id",
                    "subscription_id",
                    "message",
                    "note",
                    ("last_modified_date", "last_modified_date_text"),
                    ("actual_foc_date", "actual_foc_date_text"),
                    "is_stale",
                    "telephone_number_count",
                    "extra",
                )
            },
        ),
        (
            "Processing",
            {"fields": ("processing_state", "attempts", "last_attempt_at", "last_error")},
        ),
        (
            "Delivery",
            {
                "fields": (
                    "remote_addr",
                    "headers",
                    "fingerprint",
                    "duplicate_count",
                    "last_duplicate_at",
                    "raw_body",
                )
            },
        ),
    )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Notification], search_term: str
    ) -> tuple[QuerySet[Notification], bool]:
        # A telephone number matches in either form: 9195551234 finds +19195551234.
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            numbers = {term, to_e164(term)} - {""}
            matching = TelephoneNumber.objects.filter(
                Q(number__in=numbers) | Q(e164__in=numbers)
            ).values("notification_id")
            results = results | queryset.filter(pk__in=matching)
        return results, may_have_duplicates

    @admin.action(
        description="Replay signals for the selected notifications", permissions=["replay"]
    )
    def replay_signals(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        succeeded = failed = 0
        for notification in queryset.iterator():
            if dispatch(notification, replay=True).succeeded:
                succeeded += 1
            else:
                failed += 1
        level = messages.WARNING if failed else messages.SUCCESS
        self.message_user(
            request,
            f"Replayed {succeeded + failed}: {succeeded} succeeded, {failed} failed.",
            level,
        )

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("bw_notifications.replay_notification"))


@admin.register(RejectedDelivery)
class RejectedDeliveryAdmin(_ReadOnlyAdmin):
    """Authenticated deliveries we refused, with the reason and the body."""

    list_display = ("received_at", "status_code", "reason", "body_size", "remote_addr")
    list_filter = ("status_code",)
    date_hierarchy = "received_at"
    fields = (
        "received_at",
        "status_code",
        "reason",
        "body_size",
        "content_type",
        "remote_addr",
        "headers",
        "body_text",
    )
    readonly_fields = fields

    @admin.display(description="Body")
    def body_text(self, obj: RejectedDelivery) -> str:
        return bytes(obj.body).decode("utf-8", errors="replace")
