"""What is stored: every notification, its telephone numbers, and refused deliveries;
and the state they describe (the order book and the number inventory, defined in
:mod:`django_bw_notifications.state.models` and importable from here).

Order types, statuses and event types are open strings (never choices): Bandwidth adds
new ones, and a notification must never be refused for a name we do not know yet.
A little over the usual size: each model sits beside the QuerySet that says how its
rows are found (the admin, the API and the commands all ask there).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .parsing import MAX_LENGTHS, typed_number_forms
from .parsing import TelephoneNumber as ParsedTelephoneNumber


class ProcessingState(models.TextChoices):
    """Where a stored notification is in its dispatch to the host's receivers."""

    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"


class Source(models.TextChoices):
    """How a notification reached us."""

    DELIVERY = "delivery", "Delivered by Bandwidth"
    RECONCILED = "reconciled", "Reconciled from the Numbers API"


class NotificationQuerySet(models.QuerySet["Notification"]):
    """How notifications are found: the admin, the REST API and the commands ask here."""

    def with_number(self, typed: str) -> NotificationQuerySet:
        """Those listing a telephone number typed any way (``919-555-0177``,
        ``+1 919 555 0177``, ``19195550177``…; see ``parsing.typed_number_forms``)."""
        listing = TelephoneNumber.objects.using(self.db).typed_as(typed)
        return self.filter(pk__in=listing.values("notification_id"))

    def of_order(self, order_id: str, order_type: str | None = None) -> NotificationQuerySet:
        """An order's timeline, oldest first: its notifications by order id, and by order
        type when given (compared case-insensitively, as Bandwidth's names are)."""
        found = self.filter(order_id=order_id)
        if order_type:
            found = found.filter(order_type__iexact=order_type)
        return found.order_by("received_at", "id")

    def received_between(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> NotificationQuerySet:
        """Received at or after ``since`` and before ``until`` (either may be None); read
        people's text with :func:`parse_moment`."""
        found = self
        if since is not None:
            found = found.filter(received_at__gte=since)
        if until is not None:
            found = found.filter(received_at__lt=until)
        return found

    def failed(self) -> NotificationQuerySet:
        """Those whose last dispatch had a receiver raise."""
        return self.filter(processing_state=ProcessingState.FAILED)

    def stuck(self, older_than: float) -> NotificationQuerySet:
        """Those whose dispatch has not finished ``older_than`` seconds on: pending ones
        that arrived before then, and ones left ``processing`` (by an earlier version, or a
        host's own queue) whose last attempt began before then. Oldest first."""
        return self.filter(stuck_since(timezone.now() - timedelta(seconds=older_than))).order_by(
            "received_at", "id"
        )


def parse_moment(text: str) -> datetime | None:
    """A date-time or a date (its midnight) as people type them, None when it is neither.

    Naive input is read in the current time zone; the result compares with stored times
    whatever ``USE_TZ`` says (aware with it, naive local without). The one date parser of
    the admin, the API and the commands.
    """
    text = text.strip()
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is None:
                return None
            moment = datetime.combine(day, time())
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        return None
    try:
        if settings.USE_TZ and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        elif not settings.USE_TZ and timezone.is_aware(moment):
            moment = timezone.make_naive(moment)
        if timezone.is_aware(moment):
            moment.astimezone(UTC)  # what the database will be given (SQLite: UTC)
    except (OverflowError, ValueError):  # 0001-01-01T00:00+14:00 has no UTC time
        return None
    return moment


def stuck_since(cutoff: datetime) -> Q:
    """The condition of :meth:`NotificationQuerySet.stuck` at ``cutoff`` (the sweeper
    claims with it, so a notification finished meanwhile is not taken)."""
    return (
        Q(processing_state=ProcessingState.PENDING, received_at__lt=cutoff)
        | Q(processing_state=ProcessingState.PROCESSING, last_attempt_at__lt=cutoff)
        | Q(
            processing_state=ProcessingState.PROCESSING,
            last_attempt_at__isnull=True,
            received_at__lt=cutoff,
        )
    )


class TelephoneNumberQuerySet(models.QuerySet["TelephoneNumber"]):
    """How listed numbers are found."""

    def matching(self, e164s: Iterable[str], as_sent: Iterable[str]) -> TelephoneNumberQuerySet:
        """The one rule for "the same number": by E.164 when a number has that form
        (indexed), as sent when it has none (indexed too)."""
        return self.filter(Q(e164__in=sorted(e164s)) | Q(e164="", number__in=sorted(as_sent)))

    def typed_as(self, typed: str) -> TelephoneNumberQuerySet:
        """The numbers matching what a person typed, in any of its stored forms."""
        forms = typed_number_forms(typed)
        return self.matching(forms, forms)


class Notification(models.Model):
    """One notification as Bandwidth sent it, plus what we did with it.

    Text fields hold values as sent (whitespace stripped, case kept), ``""`` when the
    element was absent; dates are ``None`` when absent or unparseable, and the text as
    sent is kept beside them.
    """

    #: Not a column: the numbers the store just wrote, set on the instance it returns
    #: (the first dispatch in the same process reads them from here, not the table).
    stored_numbers: tuple[ParsedTelephoneNumber, ...] | None = None

    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    subscription_id = models.CharField(max_length=MAX_LENGTHS["SubscriptionId"], blank=True)
    order_type = models.CharField(max_length=MAX_LENGTHS["OrderType"], blank=True)
    order_id = models.CharField(max_length=MAX_LENGTHS["OrderId"], blank=True)
    customer_order_id = models.CharField(max_length=MAX_LENGTHS["CustomerOrderId"], blank=True)
    status = models.CharField(max_length=MAX_LENGTHS["Status"], blank=True)
    message = models.TextField(blank=True)
    note = models.TextField(blank=True)
    event_type = models.CharField(max_length=MAX_LENGTHS["EventType"], blank=True)
    last_modified_date = models.DateTimeField(null=True, blank=True)
    last_modified_date_text = models.CharField(
        max_length=MAX_LENGTHS["LastModifiedDate"],
        blank=True,
        help_text="LastModifiedDate as sent, kept even when it could not be parsed.",
    )
    actual_foc_date = models.DateTimeField(null=True, blank=True, verbose_name="actual FOC date")
    actual_foc_date_text = models.CharField(
        max_length=MAX_LENGTHS["ActualFocDate"],
        verbose_name="actual FOC date as sent",
        blank=True,
        help_text="ActualFocDate as sent, kept even when it could not be parsed.",
    )
    extra = models.JSONField(
        default=dict, blank=True, help_text="Elements this version does not know, by name."
    )
    telephone_number_count = models.PositiveIntegerField(default=0)
    #: Arrived after a newer notification of the same order (a later LastModifiedDate):
    #: its status is older than what is already known, so do not regress to it.
    #: Computed by the INSERT itself (db_default: returned with the new row).
    is_stale = models.BooleanField(
        db_default=False,
        verbose_name="out of order",
        help_text="Arrived after a notification of the same order with a later "
        "LastModifiedDate: its status is not the order's latest.",
    )

    account = models.CharField(
        max_length=64,
        blank=True,
        help_text="The BW_NOTIFICATIONS_ACCOUNTS entry whose endpoint received it "
        "(empty: no accounts configured).",
    )
    source = models.CharField(
        max_length=16,
        choices=Source,
        default=Source.DELIVERY,
        help_text="Delivered by Bandwidth, or synthesised by bw_notifications_reconcile "
        "from the order as the Numbers API returned it (then raw_body is that response).",
    )
    raw_body = models.TextField(help_text="The body as received, decoded to text.")
    fingerprint = models.CharField(
        max_length=64,
        help_text="SHA-256 of the parsed content; equal fingerprints are duplicates.",
    )
    remote_addr = models.GenericIPAddressField(null=True, blank=True, verbose_name="remote address")
    headers = models.JSONField(
        default=dict, blank=True, help_text="Allow-listed request headers (never credentials)."
    )
    duplicate_count = models.PositiveIntegerField(
        default=0, help_text="How many identical copies arrived after this one."
    )
    last_duplicate_at = models.DateTimeField(null=True, blank=True)

    processing_state = models.CharField(
        max_length=16,
        choices=ProcessingState,
        default=ProcessingState.PENDING,
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Dispatches run so far.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(
        blank=True, help_text="Receivers that raised on the last dispatch, with tracebacks."
    )
    #: The order book's row for this notification's order (None for an event, or before
    #: its first dispatch). ``order_id`` is Bandwidth's order id, hence the name.
    order_entry = models.ForeignKey(
        "bw_notifications.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,  # as TelephoneNumber's: no lock on the parent per write
        related_name="notifications",
        verbose_name="order",
    )
    #: The notification that first told the same news (the same state of the same order,
    #: see ``accounts.news_key``): this one was stored and counted there, and its
    #: receivers did not run.
    copy_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,  # as TelephoneNumber's: no lock on the parent per write
        related_name="copies",
        help_text="The notification that first told the same news; receivers did not run.",
    )

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ("-received_at", "-id")
        # Declared here rather than with db_index/unique on the fields: on PostgreSQL
        # those also create a second "_like" index per text column, which every INSERT
        # pays for and no query here uses (searches are exact).
        constraints = [
            models.UniqueConstraint(fields=["fingerprint"], name="bw_notif_fingerprint_uniq"),
        ]
        indexes = [
            models.Index(fields=["order_id"], name="bw_notif_order_id_idx"),
            models.Index(fields=["customer_order_id"], name="bw_notif_customer_order_idx"),
            models.Index(fields=["processing_state"], name="bw_notif_processing_idx"),
            models.Index(fields=["order_type", "status"], name="bw_notif_type_status_idx"),
            models.Index(fields=["event_type"], name="bw_notif_event_type_idx"),
            # The admin lists distinct statuses and subscriptions from these indexes.
            models.Index(fields=["status"], name="bw_notif_status_idx"),
            models.Index(fields=["subscription_id"], name="bw_notif_subscription_idx"),
            # "Received more than once" is rare: a small partial index finds those rows.
            models.Index(
                fields=["-received_at"],
                condition=models.Q(duplicate_count__gt=0),
                name="bw_notif_duplicated_idx",
            ),
            # The last delivery per account, for health (one index probe per account).
            models.Index(fields=["account", "-received_at"], name="bw_notif_account_recv_idx"),
            # Reconciled notifications are rare too; the admin and the API filter on them.
            models.Index(
                fields=["-received_at"],
                condition=models.Q(source="reconciled"),
                name="bw_notif_reconciled_idx",
            ),
        ]
        permissions = [("replay_notification", "Can replay the signals of a notification")]

    def __str__(self) -> str:
        if self.order_type:
            parts = (self.order_type, self.order_id or "(no order id)", self.status)
            what = " ".join(part for part in parts if part)
        else:
            what = f"event {self.event_type}"
        return f"{what} #{self.pk}"


class TelephoneNumber(models.Model):
    """One telephone number listed in a notification."""

    class Kind(models.TextChoices):
        COMPLETED = "completed", "CompletedTelephoneNumbers"
        IMPACTED = "impacted", "ImpactedTelephoneNumbers"

    # No database-level constraint: PostgreSQL checks one per inserted row at COMMIT,
    # which doubled the cost of storing a 5,000-number notification (bench/README.md).
    # Rows are only ever written by ingest, in the same transaction as their
    # notification, and deleted through the ORM, which cascades itself.
    notification = models.ForeignKey(
        Notification,
        on_delete=models.CASCADE,
        related_name="telephone_numbers",
        db_constraint=False,
    )
    #: As sent, whitespace stripped.
    number = models.CharField(max_length=MAX_LENGTHS["TelephoneNumber"])
    #: ``+1`` added to 10-digit NANP numbers, ``+…`` kept, else empty.
    e164 = models.CharField(max_length=16, blank=True, verbose_name="E.164")
    kind = models.CharField(max_length=16, choices=Kind.choices)

    objects = TelephoneNumberQuerySet.as_manager()

    class Meta:
        ordering = ("id",)
        # Exact-match indexes only (no PostgreSQL "_like" twins): see Notification.Meta.
        # Numbers are looked up by their E.164 form; only the rare ones without one are
        # looked up as sent, so only those are in the second index (one index write per
        # number instead of two: 5,000 per 5,000-number notification).
        indexes = [
            models.Index(fields=["e164"], name="bw_tn_e164_idx"),
            models.Index(
                fields=["number"], condition=models.Q(e164=""), name="bw_tn_number_no_e164_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class DispatchAttempt(models.Model):
    """One dispatch of a notification's receivers, kept after the next one: the history.

    Written in the dispatch's own transaction, so an attempt killed midway (rolled back
    whole) leaves no row, and a later success does not erase an earlier failure. Not
    written when no receiver is connected for the notification (nothing was attempted).
    Deleted with its notification.
    """

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="dispatch_attempts"
    )
    #: 1 for the first attempt, then 2, 3… (the notification's ``attempts`` after it).
    number = models.PositiveIntegerField()
    #: ``first``, ``retry`` (a copy of a failed notification arrived), ``replay``,
    #: ``task`` or ``sweep`` (see ``dispatch.Trigger``).
    trigger = models.CharField(max_length=16)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    #: ``processed`` or ``failed``.
    outcome = models.CharField(max_length=16, choices=ProcessingState)
    receivers_called = models.PositiveIntegerField(default=0)
    #: ``[{"receiver", "error", "traceback"}]``, one per receiver that raised.
    failures = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("notification", "number")
        indexes = [models.Index(fields=["notification", "number"], name="bw_attempt_notif_idx")]

    def __str__(self) -> str:
        return f"attempt {self.number} of #{self.notification_id}: {self.outcome}"


class RejectedDelivery(models.Model):
    """An authenticated delivery that was refused (4xx), kept for audit and recovery.

    Bandwidth never sends a notification twice, so even a body we cannot parse is kept.
    """

    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    status_code = models.PositiveSmallIntegerField()
    reason = models.TextField()
    body = models.BinaryField(blank=True, help_text="The body as received (empty if too large).")
    body_size = models.PositiveIntegerField(
        help_text="Bytes received, or declared in Content-Length when too large to read."
    )
    content_type = models.CharField(max_length=255, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True, verbose_name="remote address")
    headers = models.JSONField(default=dict, blank=True)
    #: The ``BW_NOTIFICATIONS_ACCOUNTS`` name of the endpoint it came to ("" for none).
    account = models.CharField(max_length=64, blank=True, default="")
    #: When an operator accepted it again (see :mod:`django_bw_notifications.intake.again`).
    accepted_at = models.DateTimeField(null=True, blank=True)
    #: The notification it became when accepted again.
    accepted_as = models.ForeignKey(
        "Notification",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="accepted_from",
        help_text="The notification stored when it was accepted again.",
    )

    class Meta:
        ordering = ("-received_at", "-id")
        verbose_name_plural = "rejected deliveries"
        permissions = [("accept_rejecteddelivery", "Can accept a refused delivery again")]

    def __str__(self) -> str:
        return f"{self.status_code} {self.reason[:60]} #{self.pk}"


# The state wing's and the operators' models, importable from here as every model is.
from .ops.models import HealthAlert  # noqa: E402
from .state.models import (  # noqa: E402
    AccountNumber,
    AccountNumberChange,
    NumberState,
    Order,
    OrderChange,
)

__all__ = [
    "AccountNumber",
    "AccountNumberChange",
    "DispatchAttempt",
    "HealthAlert",
    "Notification",
    "NotificationQuerySet",
    "NumberState",
    "Order",
    "OrderChange",
    "ProcessingState",
    "RejectedDelivery",
    "Source",
    "TelephoneNumber",
    "TelephoneNumberQuerySet",
    "parse_moment",
    "stuck_since",
]
