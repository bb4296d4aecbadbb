"""The order board and the numbers list: the state the notifications describe.

Read-only, as everything here: the order book and the inventory are kept by the
dispatches (and ``bw_notifications_rebuild_state``), never edited by hand. The board
lists open orders first, most recent news first, with their age; each order's page shows
its notifications as a timeline and its changes. The numbers list finds a number typed
any way and links to its order and its notifications. Every list query uses an index;
detail pages make a fixed number of queries.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.timesince import timesince

from ..catalog import ORDER_STATUSES, all_statuses
from ..models import AccountNumber, Notification, NumberState, Order
from ..state.models import AccountNumberQuerySet, OrderQuerySet
from .base import ReadOnlyAdmin
from .filters import AccountFilter

#: Rows of a timeline or history shown on a detail page (the newest are kept).
DETAIL_ROWS = 200


class OpenFilter(admin.SimpleListFilter):
    """Open (status not final for its type) or closed."""

    title = "open or closed"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Open"), ("no", "Closed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() in ("yes", "no"):
            return queryset.filter(closed=self.value() == "no")
        return queryset


class QuietFilter(admin.SimpleListFilter):
    """Open orders with no news for N days: the ones to chase."""

    title = "no news for"
    parameter_name = "quiet_days"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(days), f"{days} day{'s' if days > 1 else ''}") for days in (1, 3, 7, 14, 30)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value() or ""
        if not value.isdigit():
            return queryset
        since = timezone.now() - timedelta(days=int(value))
        return cast(OrderQuerySet, queryset).quiet_since(since)


class OrderTypeFilter(admin.SimpleListFilter):
    """The catalogue's order types (any case matches)."""

    title = "order type"
    parameter_name = "order_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in ORDER_STATUSES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(order_type__iexact=value) if value else queryset


class OrderStatusFilter(admin.SimpleListFilter):
    """The catalogue's statuses: of the chosen order type, else all of them."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        chosen = request.GET.get("order_type", "")
        statuses = ORDER_STATUSES.get(chosen) or all_statuses()
        return [(status, status) for status in statuses]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        return queryset.filter(status__iexact=value) if value else queryset


def notification_link(notification_id: int | None, text: str) -> str:
    """A link to a notification's admin page (``-`` without one)."""
    if notification_id is None:
        return "-"
    url = reverse("admin:bw_notifications_notification_change", args=[notification_id])
    return format_html('<a href="{}">{}</a>', url, text)


def notifications_of(term: str) -> str:
    """The notification list searched for ``term`` (an order id, a number)."""
    url = reverse("admin:bw_notifications_notification_changelist")
    return f"{url}?{urlencode({'q': term})}"


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """The order board: open orders first, then by the latest news."""

    list_display = (
        "order_id",
        "order_type",
        "status",
        "age",
        "actual_foc_date",
        "last_notified_at",
        "closed",
        "account",
    )
    list_filter = (OpenFilter, QuietFilter, OrderTypeFilter, OrderStatusFilter, AccountFilter)
    list_per_page = 50
    sortable_by = ("last_notified_at",)
    search_fields = ("order_id", "customer_order_id")
    search_help_text = "An order id or customer order id (exact)."
    fields = (
        "account",
        "order_type",
        "order_id",
        "customer_order_id",
        "status",
        "status_since",
        "closed",
        "actual_foc_date",
        "first_notified_at",
        "last_notified_at",
        "timeline",
        "history",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        """Exact matches on the indexed ids (a ``LIKE`` would scan the table)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        by_id = queryset.filter(order_id=term)
        return (by_id if by_id.exists() else queryset.filter(customer_order_id=term)), False

    @admin.display(description="age")
    def age(self, obj: Order) -> str:
        """Since the first news of the order."""
        return timesince(obj.first_notified_at)

    @admin.display(description="notifications (timeline)")
    def timeline(self, obj: Order) -> str:
        """Every notification of the order in the order they arrived; copies marked."""
        rows = list(
            Notification.objects.filter(order_entry=obj)
            .only("id", "received_at", "status", "note", "actual_foc_date", "copy_of_id", "source")
            .order_by("-received_at", "-id")[:DETAIL_ROWS]
        )
        if not rows:
            return "-"
        return format_html(
            '<table class="bw-timeline"><tr><th>received</th><th>status</th><th>FOC</th>'
            "<th>note</th><th>source</th><th></th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        notification_link(row.pk, f"{row.received_at:%Y-%m-%d %H:%M:%S}"),
                        row.status,
                        f"{row.actual_foc_date:%Y-%m-%d}" if row.actual_foc_date else "",
                        row.note,
                        row.source,
                        "copy of " + str(row.copy_of_id) if row.copy_of_id else "",
                    )
                    for row in reversed(rows)
                ),
            ),
        )

    @admin.display(description="changes")
    def history(self, obj: Order) -> str:
        """Each change of its status or FOC date, and the notification that made it."""
        changes = list(obj.changes.order_by("-changed_at", "-id")[:DETAIL_ROWS])
        if not changes:
            return "-"
        return format_html_join(
            "",
            "<div>{}: {} ({})</div>",
            (
                (
                    f"{change.changed_at:%Y-%m-%d %H:%M:%S}",
                    str(change),
                    notification_link(change.notification_id, "notification"),
                )
                for change in reversed(changes)
            ),
        )


class NumberStateFilter(admin.SimpleListFilter):
    """Where the numbers stand."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in NumberState.choices]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[AccountNumber]
    ) -> QuerySet[AccountNumber]:
        value = self.value()
        return queryset.filter(state=value) if value else queryset


@admin.register(AccountNumber)
class AccountNumberAdmin(ReadOnlyAdmin):
    """The number inventory: each number's state, since when, and the order that set it."""

    list_display = ("e164", "state", "state_since", "order", "messaging_lost", "account")
    list_filter = (NumberStateFilter, "messaging_lost", AccountFilter)
    list_per_page = 100
    sortable_by = ("e164",)
    search_fields = ("e164",)
    search_help_text = "A telephone number, typed any way (919-555-1234, +1 919 555 1234…)."
    fields = (
        "account",
        "e164",
        "state",
        "state_since",
        "order",
        "messaging_lost",
        "messaging_lost_at",
        "history",
        "notifications",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AccountNumber], search_term: str
    ) -> tuple[QuerySet[AccountNumber], bool]:
        """The number however it is typed: an exact match on the indexed E.164 form."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return cast(AccountNumberQuerySet, queryset).typed_as(term), False

    @admin.display(description="order")
    def order(self, obj: AccountNumber) -> str:
        """The order that set its state, on the order board."""
        if not obj.order_id:
            return "-"
        url = reverse("admin:bw_notifications_order_changelist")
        return format_html(
            '<a href="{}?{}">{} {}</a>',
            url,
            urlencode({"q": obj.order_id}),
            obj.order_type,
            obj.order_id,
        )

    @admin.display(description="history")
    def history(self, obj: AccountNumber) -> str:
        """Each change of its state or ``MESSAGING_LOST`` flag."""
        changes = list(obj.changes.order_by("-changed_at", "-id")[:DETAIL_ROWS])
        if not changes:
            return "-"
        return format_html_join(
            "",
            "<div>{}: {}{} ({})</div>",
            (
                (
                    f"{change.changed_at:%Y-%m-%d %H:%M:%S}",
                    str(change),
                    ", messaging lost" if change.messaging_lost else "",
                    notification_link(change.notification_id, "notification"),
                )
                for change in reversed(changes)
            ),
        )

    @admin.display(description="notifications")
    def notifications(self, obj: AccountNumber) -> str:
        """Every notification that names the number."""
        return format_html(
            '<a href="{}">Notifications of {}</a>', notifications_of(obj.e164), obj.e164
        )
