"""The list's query parameters: validated, then applied as exact, indexed lookups.

Every parameter is checked before any query runs. A value that cannot be used (an
unknown processing state, a date that does not parse) or a parameter we do not know
(a typo would otherwise silently return everything) is a ``400`` naming the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import cast

from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from ..models import (
    AccountNumber,
    Notification,
    NumberState,
    Order,
    ProcessingState,
    Source,
    TelephoneNumber,
    parse_moment,
)
from ..state.models import OrderQuerySet

#: Exact-match parameters: query parameter -> model field.
EXACT = {
    "order_type": "order_type",
    "status": "status",
    "event_type": "event_type",
    "order_id": "order_id",
    "customer_order_id": "customer_order_id",
    "subscription_id": "subscription_id",
    "account": "account",
}
#: ``processing_state`` also accepts this: notifications Bandwidth sent more than once.
DUPLICATED = "duplicated"
#: Parameters read elsewhere (pagination, format negotiation).
PASSED_THROUGH = frozenset({"cursor", "format"})
PARAMETERS = frozenset(
    {
        *EXACT,
        "processing_state",
        "source",
        "telephone_number",
        "received_after",
        "received_before",
    }
)


def filter_notifications(
    queryset: QuerySet[Notification], params: Mapping[str, str]
) -> QuerySet[Notification]:
    """Apply the list's filters to ``queryset``; raises ``ValidationError`` (400)."""
    _refuse_unusable(params, PARAMETERS)
    errors: dict[str, str] = {}
    conditions = Q()
    for name, field in EXACT.items():
        if name in params:
            conditions &= Q(**{field: params[name].strip()})

    state = params.get("processing_state")
    if state is not None:
        if state == DUPLICATED:
            conditions &= Q(duplicate_count__gt=0)
        elif state in ProcessingState.values:
            conditions &= Q(processing_state=state)
        else:
            errors["processing_state"] = (
                f"{state!r} is not one of {', '.join([*ProcessingState.values, DUPLICATED])}"
            )

    source = params.get("source")
    if source is not None:
        if source in Source.values:
            conditions &= Q(source=source)
        else:
            errors["source"] = f"{source!r} is not one of {', '.join(Source.values)}"

    number = params.get("telephone_number")
    if number is not None:
        number = number.strip()
        if not number:
            errors["telephone_number"] = "give a number, e.g. 9195551234 or +19195551234"
        else:
            # Typed any way (919-555-0177, +1 919 555 0177…): the model's rule.
            matching = TelephoneNumber.objects.typed_as(number).values("notification_id")
            conditions &= Q(pk__in=matching)

    for name, lookup in (("received_after", "gte"), ("received_before", "lt")):
        if name in params:
            moment = parse_moment(params[name])
            if moment is None:
                errors[name] = (
                    f"{params[name]!r} is not an ISO 8601 date or date-time "
                    "(e.g. 2026-11-23 or 2026-11-23T15:00:00Z)"
                )
            else:
                conditions &= Q(**{f"received_at__{lookup}": moment})
    if errors:
        raise ValidationError(errors)
    return queryset.filter(conditions)


# --- the order book and the inventory ---------------------------------------------------

#: The orders' parameters: exact or any-case lookups, then the board's two filters.
ORDER_EXACT = {
    "account": "account",
    "order_id": "order_id",
    "customer_order_id": "customer_order_id",
}
ORDER_ANY_CASE = {"order_type": "order_type__iexact", "status": "status__iexact"}
ORDER_PARAMETERS = frozenset({*ORDER_EXACT, *ORDER_ANY_CASE, "open", "quiet_days"})
#: The numbers' parameters.
NUMBER_EXACT = {"account": "account", "order_id": "order_id"}
NUMBER_PARAMETERS = frozenset({*NUMBER_EXACT, "state", "telephone_number", "messaging_lost"})
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _refuse_unusable(params: Mapping[str, str], known: frozenset[str]) -> None:
    """Unknown parameters and NUL characters refused (400) before any query: a typo
    would otherwise return everything, and PostgreSQL refuses NUL in text."""
    unknown = sorted(set(params) - known - PASSED_THROUGH)
    if unknown:
        raise ValidationError(
            {name: f"unknown parameter; use one of {', '.join(sorted(known))}" for name in unknown}
        )
    errors = {name: "must not contain NUL characters" for name, v in params.items() if "\x00" in v}
    if errors:
        raise ValidationError(errors)


def _boolean(params: Mapping[str, str], name: str, errors: dict[str, str]) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if value.strip().lower() not in _BOOLEANS:
        errors[name] = f"{value!r} is not true or false"
        return None
    return _BOOLEANS[value.strip().lower()]


def filter_orders(queryset: QuerySet[Order], params: Mapping[str, str]) -> QuerySet[Order]:
    """The order list's filters (``open``, ``quiet_days``: open orders with no news for
    that many days); raises ``ValidationError`` (400)."""
    _refuse_unusable(params, ORDER_PARAMETERS)
    errors: dict[str, str] = {}
    conditions = Q()
    for name, lookup in {**ORDER_EXACT, **ORDER_ANY_CASE}.items():
        if name in params:
            conditions &= Q(**{lookup: params[name].strip()})
    is_open = _boolean(params, "open", errors)
    if is_open is not None:
        conditions &= Q(closed=not is_open)
    quiet = params.get("quiet_days")
    if quiet is not None and not quiet.strip().isdigit():
        errors["quiet_days"] = f"{quiet!r} is not a whole number of days"
    if errors:
        raise ValidationError(errors)
    queryset = queryset.filter(conditions)
    if quiet is not None:
        # The model's rule for "no news for N days" (the admin's board uses it too).
        since = timezone.now() - timedelta(days=int(quiet.strip()))
        queryset = cast(OrderQuerySet, queryset).quiet_since(since)
    return queryset


def filter_numbers(
    queryset: QuerySet[AccountNumber], params: Mapping[str, str]
) -> QuerySet[AccountNumber]:
    """The number list's filters; raises ``ValidationError`` (400)."""
    _refuse_unusable(params, NUMBER_PARAMETERS)
    errors: dict[str, str] = {}
    conditions = Q()
    for name, field in NUMBER_EXACT.items():
        if name in params:
            conditions &= Q(**{field: params[name].strip()})
    state = params.get("state")
    if state is not None:
        if state in NumberState.values:
            conditions &= Q(state=state)
        else:
            errors["state"] = f"{state!r} is not one of {', '.join(NumberState.values)}"
    lost = _boolean(params, "messaging_lost", errors)
    if lost is not None:
        conditions &= Q(messaging_lost=lost)
    number = params.get("telephone_number")
    if number is not None:
        if not number.strip():
            errors["telephone_number"] = "give a number, e.g. 9195551234 or +19195551234"
        else:
            typed = AccountNumber.objects.typed_as(number.strip()).values("pk")
            conditions &= Q(pk__in=typed)
    if errors:
        raise ValidationError(errors)
    return queryset.filter(conditions)
