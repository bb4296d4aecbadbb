"""Admin list filters that stay fast on tables with millions of notifications.

Django's ``AllValuesFieldListFilter`` runs ``SELECT DISTINCT column`` over the whole
table on every page load: a full scan per filter. Here the few distinct values of an
indexed column are read with a recursive "loose index scan" (one index probe per
distinct value), and the processing filter needs no query at all.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import connections, router
from django.db.models import Field, Model, QuerySet
from django.http import HttpRequest

from ..accounts import account_names
from ..catalog import event_type_label, order_type_label, status_label, with_label
from ..models import Notification, ProcessingState, Source

#: More distinct values than this are not listed (the URL parameter still filters).
MAX_CHOICES = 200


def distinct_values(
    model: type[Model],
    field_name: str,
    *,
    where: tuple[str, str] | None = None,
    limit: int = MAX_CHOICES,
) -> list[str]:
    """Return the distinct non-empty values of an indexed text column, in order.

    Each step asks the index for the smallest value greater than the previous one, so
    the cost grows with the number of distinct values, not of rows. ``where`` is an
    optional ``(field_name, value)`` equality that a composite index leads with (the
    statuses of one order type, for example).
    """
    opts = model._meta
    connection = connections[router.db_for_read(model)]
    quote = connection.ops.quote_name
    table = quote(opts.db_table)
    column = quote(_column(model, field_name))
    condition, params = "", []
    if where is not None:
        condition = f" AND {quote(_column(model, where[0]))} = %s"
        params = [where[1]]
    step = f"SELECT MIN({column}) FROM {table} WHERE {column} > %s{condition}"  # noqa: S608
    # Names come from the model's own metadata, quoted by the backend; values are
    # parameters. Raw SQL because the ORM cannot express a recursive CTE.
    sql = (
        f"WITH RECURSIVE seen(value, n) AS ("  # noqa: S608
        f" SELECT ({step}), 1"
        f" UNION ALL"
        f" SELECT ({step.replace('%s', 'seen.value', 1)}), n + 1 FROM seen"
        f" WHERE seen.value IS NOT NULL AND n < %s"
        f") SELECT value FROM seen WHERE value IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ["", *params, *params, limit])
        return [row[0] for row in cursor.fetchall()]


def _column(model: type[Model], field_name: str) -> str:
    field = model._meta.get_field(field_name)
    assert isinstance(field, Field)  # a concrete column, not a relation
    return str(field.column)


class DistinctValuesFilter(admin.SimpleListFilter):
    """Filter on the exact value of an indexed column, listing the values present."""

    field_name: str = ""

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        self.parameter_name = self.field_name
        super().__init__(request, params, model, model_admin)

    def where(self, request: HttpRequest) -> tuple[str, str] | None:
        """An equality the listed values are restricted to (none by default)."""
        return None

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        values = distinct_values(Notification, self.field_name, where=self.where(request))
        current = self.value()
        if current and current not in values:  # keep a hand-typed value visible
            values.append(current)
        return [(value, with_label(value, self.label(value))) for value in values]

    def label(self, value: str) -> str:
        """The catalogue's readable label shown beside a value ("" for none)."""
        return ""

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Notification]
    ) -> QuerySet[Notification]:
        value = self.value()
        return queryset.filter(**{self.field_name: value}) if value else queryset


class OrderTypeFilter(DistinctValuesFilter):
    title = "order type"
    field_name = "order_type"

    def label(self, value: str) -> str:
        return order_type_label(value)


class StatusFilter(DistinctValuesFilter):
    """Statuses present; only those of the chosen order type once one is chosen."""

    title = "status"
    field_name = "status"

    def label(self, value: str) -> str:
        return status_label(value)

    def where(self, request: HttpRequest) -> tuple[str, str] | None:
        order_type = request.GET.get("order_type")
        return ("order_type", order_type) if order_type else None


class EventTypeFilter(DistinctValuesFilter):
    title = "event type"
    field_name = "event_type"

    def label(self, value: str) -> str:
        return event_type_label(value)


class SubscriptionFilter(DistinctValuesFilter):
    """Compact: the subscriptions of the chosen order type, ids shortened; hidden when
    there are more than a dozen (paste a subscription id in the search box instead)."""

    title = "subscription id"
    field_name = "subscription_id"
    most = 12

    def where(self, request: HttpRequest) -> tuple[str, str] | None:
        order_type = request.GET.get("order_type")
        return ("order_type", order_type) if order_type else None

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = super().lookups(request, model_admin)
        if len(choices) > self.most and not self.value():
            return []
        return [(value, value if len(value) <= 13 else value[:8] + "…") for value, _ in choices]


class ProcessingFilter(admin.SimpleListFilter):
    """The processing states, plus notifications Bandwidth sent more than once."""

    title = "processing"
    parameter_name = "processing_state"
    DUPLICATED = "duplicated"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*ProcessingState.choices, (self.DUPLICATED, "Received more than once")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Notification]
    ) -> QuerySet[Notification]:
        value = self.value()
        if value == self.DUPLICATED:
            return queryset.filter(duplicate_count__gt=0)
        if value in ProcessingState.values:
            return queryset.filter(processing_state=value)
        return queryset


class SourceFilter(admin.SimpleListFilter):
    """Delivered by Bandwidth, or recovered by ``bw_notifications_reconcile``."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(Source.choices)

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Notification]
    ) -> QuerySet[Notification]:
        value = self.value()
        return queryset.filter(source=value) if value in Source.values else queryset


class AccountFilter(admin.SimpleListFilter):
    """The configured Bandwidth accounts (hidden when there are fewer than two, unless
    a link asks for one: ``?account=`` is then applied and shown, never ignored)."""

    title = "account"
    parameter_name = "account"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = account_names()
        if len(names) > 1:
            return [(name, name) for name in names]
        # Django applies only the filters it shows: one asked for must be shown.
        value = self.value()
        return [(value, value)] if value else []

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Notification]
    ) -> QuerySet[Notification]:
        value = self.value()
        return queryset.filter(account=value) if value else queryset
