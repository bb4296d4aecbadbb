"""The refused deliveries' admin: each kept with its reason, for audit and recovery, and
the action that accepts one again once it can be (a parser fix, a new account)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from ..intake.again import Again, accept_again
from ..models import RejectedDelivery
from .base import ReadOnlyAdmin

#: Deliveries one request accepts again, at most (each is stored and dispatched).
ACCEPT_LIMIT = 100


class AcceptedFilter(admin.SimpleListFilter):
    """Accepted again or still refused."""

    title = "accepted again"
    parameter_name = "accepted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Not yet"), ("yes", "Yes")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[RejectedDelivery]
    ) -> QuerySet[RejectedDelivery]:
        if self.value() in ("yes", "no"):
            return queryset.filter(accepted_at__isnull=self.value() == "no")
        return queryset


@admin.register(RejectedDelivery)
class RejectedDeliveryAdmin(ReadOnlyAdmin):
    """Authenticated deliveries we refused, with the reason and the body."""

    list_display = (
        "received_at",
        "status_code",
        "reason",
        "account",
        "body_size",
        "remote_addr",
        "accepted",
    )
    list_filter = ("status_code", "account", AcceptedFilter)
    date_hierarchy = "received_at"
    fields = (
        "received_at",
        "status_code",
        "reason",
        "account",
        "body_size",
        "content_type",
        "remote_addr",
        "headers",
        "accepted_at",
        "accepted_notification",
        "body_text",
    )
    readonly_fields = fields
    actions = ["accept_again"]

    @admin.display(description="Body")
    def body_text(self, obj: RejectedDelivery) -> str:
        text = bytes(obj.body).decode("utf-8", errors="replace")
        return format_html('<pre class="bw-xml">{}</pre>', text) if text else "-"

    @admin.display(description="Accepted again", boolean=True)
    def accepted(self, obj: RejectedDelivery) -> bool:
        return obj.accepted_at is not None

    @admin.display(description="Accepted as")
    def accepted_notification(self, obj: RejectedDelivery) -> str:
        if obj.accepted_as_id is None:
            return "-"
        url = reverse("admin:bw_notifications_notification_change", args=[obj.accepted_as_id])
        return format_html('<a href="{}">notification #{}</a>', url, obj.accepted_as_id)

    def has_accept_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("bw_notifications.accept_rejecteddelivery"))

    @admin.action(
        description="Accept the selected deliveries again (as if just received)",
        permissions=["accept"],
    )
    def accept_again(
        self, request: HttpRequest, queryset: QuerySet[RejectedDelivery]
    ) -> TemplateResponse | None:
        """Confirm first; then pass each body through the pipeline, exactly once."""
        # Those accepted already are left out, so "select all" reaches the rest.
        waiting = queryset.filter(accepted_at__isnull=True).order_by("received_at", "id")
        if request.POST.get("confirmed") != "yes":
            rows = list(waiting[: ACCEPT_LIMIT + 1])
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Accept refused deliveries again",
                "rows": rows[:ACCEPT_LIMIT],
                "more": len(rows) > ACCEPT_LIMIT,
                "limit": ACCEPT_LIMIT,
                "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
                "action": request.POST.get("action", "accept_again"),
                "back": reverse("admin:bw_notifications_rejecteddelivery_changelist"),
            }
            return TemplateResponse(
                request, "bw_notifications/admin/accept_again_confirmation.html", context
            )
        counts: dict[Again, int] = dict.fromkeys(Again, 0)
        reasons: list[str] = []
        counts[Again.ALREADY] = queryset.filter(accepted_at__isnull=False).count()
        for pk in waiting.values_list("pk", flat=True)[:ACCEPT_LIMIT]:
            outcome = accept_again(pk)
            counts[outcome.result] += 1
            if outcome.result in (Again.REFUSED, Again.UNAVAILABLE):
                reasons.append(f"#{pk}: {outcome.reason}")
        self._report(request, counts, reasons)
        return None

    def _report(self, request: HttpRequest, counts: dict[Again, int], reasons: list[str]) -> None:
        done = counts[Again.ACCEPTED] + counts[Again.DUPLICATE]
        if done:
            self.message_user(
                request,
                f"Accepted {done} deliver{'y' if done == 1 else 'ies'} again "
                f"({counts[Again.DUPLICATE]} already stored as a notification).",
                messages.SUCCESS,
            )
        if counts[Again.ALREADY]:
            self.message_user(
                request,
                f"{counts[Again.ALREADY]} had been accepted again already: nothing done.",
                messages.WARNING,
            )
        if reasons:
            self.message_user(request, "Not accepted: " + "; ".join(reasons[:10]), messages.ERROR)
