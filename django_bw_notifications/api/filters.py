"""The list's query parameters: validated, then applied as exact, indexed lookups.

Every parameter is checked before any query runs. A value that cannot be used (an
unknown processing state, a date that does not parse) or a parameter we do not know
(a typo would otherwise silently return everything) is a ``400`` naming the problem.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError

from ..models import Notification, ProcessingState, Source, TelephoneNumber, parse_moment

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
    unknown = sorted(set(params) - PARAMETERS - PASSED_THROUGH)
    if unknown:
        raise ValidationError(
            {
                name: f"unknown parameter; use one of {', '.join(sorted(PARAMETERS))}"
                for name in unknown
            }
        )
    errors: dict[str, str] = {
        name: "must not contain NUL characters" for name, value in params.items() if "\x00" in value
    }
    if errors:  # PostgreSQL refuses NUL in text: stop before any query
        raise ValidationError(errors)
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
