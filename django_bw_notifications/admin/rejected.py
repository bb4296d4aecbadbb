"""The refused deliveries' admin: each kept with its reason, for audit and recovery."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from ..models import RejectedDelivery
from .base import ReadOnlyAdmin


@admin.register(RejectedDelivery)
class RejectedDeliveryAdmin(ReadOnlyAdmin):
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
        text = bytes(obj.body).decode("utf-8", errors="replace")
        return format_html('<pre class="bw-xml">{}</pre>', text) if text else "-"
