"""The notifications' admin: a list that fits a laptop, the whole story on the detail page,
replay of what failed.

One ``ModelAdmin`` and its views, over the usual size because Django wants them on one
class; what they show is built elsewhere (:mod:`.story`, :mod:`.badges`, :mod:`.filters`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import DatabaseError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..catalog import event_type_label, order_type_label, status_label, with_label
from ..dispatch.scheduling import replay
from ..models import Notification, ProcessingState, TelephoneNumber, parse_moment
from ..ops.health import check_health
from . import badges, story
from .base import ReadOnlyAdmin
from .filters import (
    AccountFilter,
    EventTypeFilter,
    OrderTypeFilter,
    ProcessingFilter,
    SourceFilter,
    StatusFilter,
    SubscriptionFilter,
)


def _short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (the list shows it on hover)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: At most this many notifications are replayed by one admin request.
REPLAY_LIMIT = 1_000


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """Who sent what, when, and whether our receivers handled it."""

    # Four narrow columns, so the list fits a 1366 px laptop with the navigation sidebar
    # and the filters open: what happened (type, status and processing side by side),
    # which order, how many numbers.
    list_display = ("received", "what", "order", "numbers")
    list_display_links = ("received",)
    list_filter = (
        ProcessingFilter,
        OrderTypeFilter,
        StatusFilter,
        EventTypeFilter,
        SubscriptionFilter,
        SourceFilter,
        AccountFilter,
    )
    list_per_page = 50
    # Sorting millions of rows by an unindexed column is slow; received time is indexed.
    sortable_by = ("received_at",)
    date_hierarchy = "received_at"
    # Shown as the search box's help; get_search_results() does the matching.
    search_fields = ("order_id", "customer_order_id", "subscription_id", "message", "note")
    search_help_text = (
        "An order id, customer order id, subscription id or telephone number (typed any "
        "way: 919-555-1234, +1 919 555 1234…) finds exact matches; anything else "
        "searches the message and note text."
    )
    actions = ("replay_signals",)
    readonly_fields = (
        "order_type_shown",
        "status_shown",
        "event_type_shown",
        "processing_badge",
        "last_error_text",
        "dispatch_history",
        "delivery_order",
        "order_book",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "received_at",
                    "order_type_shown",
                    "status_shown",
                    "event_type_shown",
                    "order_id",
                    "customer_order_id",
                    "subscription_id",
                    "message",
                    "note",
                    ("last_modified_date", "last_modified_date_text"),
                    ("actual_foc_date", "actual_foc_date_text"),
                    "delivery_order",
                    "order_book",
                    "telephone_number_count",
                    "extra",
                )
            },
        ),
        (
            "Processing by this project's receivers",
            {
                "fields": (
                    "processing_badge",
                    "attempts",
                    "last_attempt_at",
                    "last_error_text",
                    "dispatch_history",
                )
            },
        ),
        (
            "Delivery",
            {
                "fields": (
                    "account",
                    "source",
                    "remote_addr",
                    "headers",
                    "fingerprint",
                    "duplicate_count",
                    "last_duplicate_at",
                )
            },
        ),
    )

    # -- list ------------------------------------------------------------------------

    @admin.display(description="received", ordering="received_at")
    def received(self, obj: Notification) -> str:
        local = (
            timezone.localtime(obj.received_at)
            if timezone.is_aware(obj.received_at)
            else obj.received_at
        )
        return format_html(
            '<span title="{}">{}</span>',
            f"{local:%Y-%m-%d %H:%M:%S %Z}".strip(),
            f"{local:%b %d, %H:%M}",
        )

    @admin.display(description="what")
    def what(self, obj: Notification) -> str:
        """The order type (or event) and status, and the processing state next to them;
        long names shortened (in full on hover) so that the list keeps its width."""
        kind = obj.order_type or f"event {obj.event_type}"
        label = order_type_label(obj.order_type) if obj.order_type else ""
        return format_html(
            '<span class="bw-what" title="{}">{}</span> {} {}',
            with_label(kind, label or event_type_label(obj.event_type)),
            _short(kind, 22),
            badges.status_badge(obj, limit=20) if obj.status else "",
            self.processing_badge(obj),
        )

    @admin.display(description="order")
    def order(self, obj: Notification) -> str:
        """The order id, shortened (a UUID is 36 characters), and the customer's own."""
        if not obj.order_id and not obj.customer_order_id:
            return "-"
        short = obj.order_id if len(obj.order_id) <= 13 else obj.order_id[:8] + "…"
        customer = (
            format_html(
                '<br><small title="customer order id: {}">{}</small>',
                obj.customer_order_id,
                _short(obj.customer_order_id, 18),
            )
            if obj.customer_order_id
            else ""
        )
        return format_html('<span title="{}">{}</span>{}', obj.order_id, short or "-", customer)

    @admin.display(description="numbers", ordering=None)
    def numbers(self, obj: Notification) -> int:
        return obj.telephone_number_count

    @admin.display(description="order type")
    def order_type_shown(self, obj: Notification) -> str:
        """As Bandwidth spells it, with the catalogue's label beside it."""
        return _labelled(obj.order_type, order_type_label(obj.order_type))

    @admin.display(description="status")
    def status_shown(self, obj: Notification) -> str:
        if not obj.status:
            return "-"
        return format_html("{} {}", badges.status_badge(obj), _label_text(status_label(obj.status)))

    @admin.display(description="event type")
    def event_type_shown(self, obj: Notification) -> str:
        return _labelled(obj.event_type, event_type_label(obj.event_type))

    @admin.display(description="processing", ordering="processing_state")
    def processing_badge(self, obj: Notification) -> str:
        return badges.processing_badge(obj)

    @admin.display(description="last error")
    def last_error_text(self, obj: Notification) -> str:
        if not obj.last_error:
            return "-"
        return format_html('<pre class="bw-traceback">{}</pre>', obj.last_error)

    @admin.display(description="delivery order")
    def delivery_order(self, obj: Notification) -> str:
        """Words, not a red cross on every healthy row."""
        if obj.is_stale:
            return (
                "Out of order: a notification of this order with a later "
                "LastModifiedDate arrived first"
            )
        return "In order"

    @admin.display(description="order book")
    def order_book(self, obj: Notification) -> str:
        """The order it belongs to on the board, and the first telling of a copy."""
        if obj.order_entry_id is None:
            return "-"
        url = reverse("admin:bw_notifications_order_change", args=[obj.order_entry_id])
        link = format_html('<a href="{}">the order\'s page</a>', url)
        if obj.copy_of_id is None:
            return link
        first = reverse("admin:bw_notifications_notification_change", args=[obj.copy_of_id])
        return format_html(
            '{}; a copy of <a href="{}">notification {}</a>, which told the same news '
            "(its receivers did not run)",
            link,
            first,
            obj.copy_of_id,
        )

    @admin.display(description="dispatch history")
    def dispatch_history(self, obj: Notification) -> str:
        """Every attempt, oldest first: a later success does not hide an earlier failure."""
        attempts = list(obj.dispatch_attempts.all())
        if not attempts:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    attempt.number,
                    attempt.trigger,
                    f"{attempt.started_at:%Y-%m-%d %H:%M:%S}",
                    attempt.outcome,
                    attempt.receivers_called,
                    format_html_join(
                        "",
                        "<details><summary>{}: {}</summary>"
                        '<pre class="bw-traceback">{}</pre></details>',
                        ((f["receiver"], f["error"], f["traceback"]) for f in attempt.failures),
                    )
                    or "-",
                )
                for attempt in attempts
            ),
        )
        return format_html(
            '<table class="bw-history"><thead><tr><th>#</th><th>trigger</th><th>started</th>'
            "<th>outcome</th><th>receivers</th><th>failures</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Notification], search_term: str
    ) -> tuple[QuerySet[Notification], bool]:
        """Exact matches on ids and numbers; message and note text when there are none.

        Exact matches use indexes, so pasting an order id or a number is fast at any
        size. Free text cannot use a plain index, so it is searched only when the term
        is not an id or number we have.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        notification_ids = list(
            # A number typed any way (919-555-0177, +1 919 555 0177…): the model's rule.
            TelephoneNumber.objects.typed_as(term)
            .values_list("notification_id", flat=True)
            .distinct()
        )
        exact = (
            Q(order_id=term)
            | Q(customer_order_id=term)
            | Q(subscription_id=term)
            | Q(pk__in=notification_ids)
        )
        if notification_ids or Notification.objects.filter(exact).exists():
            return queryset.filter(exact), False
        return queryset.filter(Q(message__icontains=term) | Q(note__icontains=term)), False

    # -- detail ----------------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        notification = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if notification is not None:
            context.update(self._story(request, notification))
        return super().change_view(request, object_id, form_url, context)

    def _story(self, request: HttpRequest, notification: Notification) -> dict[str, Any]:
        """Context for the detail page's numbers, timeline, same numbers and XML."""
        return {
            "changelist_url": reverse("admin:bw_notifications_notification_changelist"),
            "failure": story.failure(notification),
            "can_replay": self.has_replay_permission(request),
            "replay_url": reverse(
                "admin:bw_notifications_notification_replay", args=[notification.pk]
            ),
            "numbers": story.numbers_page(notification, request.GET.get("numbers_page")),
            "timeline": story.timeline(notification),
            "same_numbers": story.same_numbers(notification),
            "raw_xml": story.raw_xml(notification.raw_body),
        }

    # -- replaying -------------------------------------------------------------------

    @admin.action(
        description="Replay signals for the selected notifications", permissions=["replay"]
    )
    def replay_signals(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        self._replay(request, queryset, not_since=_decided_at(request))

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("bw_notifications.replay_notification"))

    def _replay(
        self,
        request: HttpRequest,
        queryset: QuerySet[Notification],
        *,
        not_since: datetime,
        only_failed: bool = False,
    ) -> None:
        # Oldest first, as Bandwidth sent them, so receivers see states in order. One
        # request replays at most REPLAY_LIMIT: the rest would outlive the request.
        # The replay service claims each one: a double submit or a second operator
        # finds those in flight, or replayed since the operator looked (not_since), or no
        # longer failed, and skips them.
        batch = list(
            queryset.order_by("received_at", "id").values_list("pk", flat=True)[: REPLAY_LIMIT + 1]
        )
        succeeded = failed = skipped = 0
        for pk in batch[:REPLAY_LIMIT]:
            outcome = replay(pk, only_failed=only_failed, not_since=not_since)
            if outcome is None:
                skipped += 1
            elif outcome.succeeded:
                succeeded += 1
            else:
                failed += 1
        level = messages.WARNING if failed or skipped else messages.SUCCESS
        message = f"Replayed {succeeded + failed}: {succeeded} succeeded, {failed} failed."
        if skipped:
            message += (
                f" {skipped} skipped: being replayed by someone else right now, or replayed "
                "meanwhile" + (", or no longer failed." if only_failed else ".")
            )
        self.message_user(request, message, level)
        if len(batch) > REPLAY_LIMIT:
            self.message_user(
                request,
                f"Only the oldest {REPLAY_LIMIT} were replayed. For more, use "
                "manage.py bw_notifications_replay (--failed, --order-id, --since, --until).",
                messages.WARNING,
            )

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "replay-failed/",
                self.admin_site.admin_view(self.replay_failed_view),
                name=f"{prefix}_replay_failed",
            ),
            path(
                "<path:object_id>/replay/",
                self.admin_site.admin_view(self.replay_one_view),
                name=f"{prefix}_replay",
            ),
            *super().get_urls(),
        ]

    def replay_one_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The detail page's replay button: POST only, once per attempt shown.

        The form posts back how many attempts the page showed, so a double submit (or a
        second operator pressing on the same page) finds one more recorded and replays
        nothing; the notification must still be failed.
        """
        if not (self.has_view_permission(request) and self.has_replay_permission(request)):
            raise PermissionDenied
        notification = self.get_object(request, object_id)
        if notification is None:
            self.message_user(request, f"No notification {object_id}.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:bw_notifications_notification_changelist"))
        back = reverse("admin:bw_notifications_notification_change", args=[notification.pk])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        try:
            attempts = int(request.POST.get("attempts", ""))
        except ValueError:
            attempts = notification.attempts
        outcome = replay(notification.pk, only_failed=True, attempts=attempts)
        if outcome is None:
            self.message_user(
                request,
                "Not replayed: it was replayed meanwhile, is being replayed right now, or is "
                "no longer failed.",
                messages.WARNING,
            )
        elif outcome.succeeded:
            self.message_user(request, "Replayed: every receiver succeeded.", messages.SUCCESS)
        else:
            self.message_user(
                request,
                f"Replayed, and it failed again ({len(outcome.failures)} receiver"
                f"{'s' if len(outcome.failures) != 1 else ''}): see below.",
                messages.ERROR,
            )
        return HttpResponseRedirect(back)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            health, unreadable = check_health(), ""
        except ImproperlyConfigured as err:  # a health threshold: E014 says so too
            health, unreadable = None, str(err)
        except DatabaseError:  # past the time budget: the list itself may still load
            health, unreadable = None, "the database did not answer within the time budget"
        context = {
            "can_replay": self.has_replay_permission(request),
            "shown_at": timezone.now().isoformat(),  # posted back with an action
            "health": health,
            "health_unreadable": unreadable,
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def _filter_title(self, parameter: str) -> str:
        """A list's query parameter as the filter panel names it (``By processing``)."""
        if parameter == "q":
            return "search"
        parameter = parameter.removesuffix("__exact")
        if parameter.startswith("received_at__"):
            return "received " + parameter.removeprefix("received_at__")
        for list_filter in self.list_filter:
            names = (
                getattr(list_filter, "parameter_name", None),
                getattr(list_filter, "field_name", None),
            )
            if parameter in names:
                return str(getattr(list_filter, "title", parameter))
        return parameter

    def replay_failed_view(self, request: HttpRequest) -> HttpResponse:
        """Replay every failed notification of the list as filtered (confirm, then POST)."""
        try:
            return self._replay_failed(request)
        except OverflowError:  # a date at the calendar's edge, as in the list
            changelist_url = reverse("admin:bw_notifications_notification_changelist")
            return self._cleared(request, changelist_url, "a date out of range")

    def _replay_failed(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_view_permission(request) and self.has_replay_permission(request)):
            raise PermissionDenied
        changelist_url = reverse("admin:bw_notifications_notification_changelist")
        # A filter that cannot be used must not silently become "no filter" (replaying
        # every failed notification): refuse it, as the list does.
        refusal = self.refuse_unusable_filters(request, changelist_url)
        if refusal is not None:
            return refusal
        query = request.GET.urlencode()
        back = f"{changelist_url}?{query}" if query else changelist_url
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            self.message_user(request, "The list's filters are not valid.", messages.ERROR)
            return HttpResponseRedirect(changelist_url)
        failed = changelist.get_queryset(request).filter(processing_state=ProcessingState.FAILED)
        if request.method == "POST":
            self._replay(request, failed, only_failed=True, not_since=_decided_at(request))
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Replay failed notifications",
            "shown_at": timezone.now().isoformat(),
            "failed_count": failed.count(),
            "limit": REPLAY_LIMIT,
            "back": back,
            "conditions": [
                f"{self._filter_title(name)}: {value}"
                for name, value in request.GET.items()
                if name not in {"p", "o", "e", "_changelist_filters"}
            ],
        }
        return TemplateResponse(
            request, "bw_notifications/admin/replay_failed_confirmation.html", context
        )


def _label_text(label: str) -> str:
    return format_html('<span class="bw-label">{}</span>', label) if label else ""


def _labelled(name: str, label: str) -> str:
    """A name as sent ("-" when empty) and its readable label beside it."""
    if not name:
        return "-"
    return format_html("<code>{}</code> {}", name, _label_text(label))


def _decided_at(request: HttpRequest) -> datetime:
    """When the operator decided to replay: the page they submitted was shown then (its
    ``shown_at``), so a double submit of it replays nothing the first submit ran; now
    for a form without one (a hand-made POST)."""
    now = timezone.now()
    shown = parse_moment(request.POST.get("shown_at", ""))
    return now if shown is None else min(shown, now)
