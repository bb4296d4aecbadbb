"""The API's views: notifications (list, detail, an order's timeline, replay), the
order book and the number inventory (list, detail), health, and the OpenAPI schema."""

from __future__ import annotations

import contextlib
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.db.models import QuerySet
from django.urls import NoReverseMatch
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.schemas.openapi import AutoSchema
from rest_framework.views import APIView

from ..dispatch.scheduling import replay
from ..models import AccountNumber, Notification, Order, parse_moment
from ..ops.health import check_health
from ..ops.views import WithinTimeBudget
from .filters import filter_notifications, filter_numbers, filter_orders
from .permissions import read_permissions, replay_permissions
from .serializers import (
    AccountNumberDetailSerializer,
    AccountNumberSerializer,
    NotificationDetailSerializer,
    NotificationSummarySerializer,
    OrderDetailSerializer,
    OrderSerializer,
    ReplayResultSerializer,
)


class _QueryParameters(AutoSchema):
    """Documents the query parameters our views validate themselves (no filter backends)."""

    def __init__(self, operation_id_base: str, parameters: dict[str, str]) -> None:
        super().__init__(operation_id_base=operation_id_base)
        self.parameters = parameters

    def get_filter_parameters(self, path: str, method: str) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "in": "query",
                "required": name in _REQUIRED,
                "description": description,
                "schema": {"type": "string"},
            }
            for name, description in self.parameters.items()
        ]


_REQUIRED = {"order_id"}
_LIST_PARAMETERS = {
    "order_type": "Exact order type, as Bandwidth spells it (e.g. portins).",
    "status": "Exact status (e.g. COMPLETE).",
    "event_type": "Exact event type (e.g. MESSAGING_LOST).",
    "order_id": "Exact order id.",
    "customer_order_id": "Exact customer order id.",
    "subscription_id": "Exact subscription id.",
    "account": "The BW_NOTIFICATIONS_ACCOUNTS name whose endpoint received it.",
    "source": "delivery (POSTed by Bandwidth) or reconciled (recovered from the Numbers API).",
    "processing_state": "pending, processing, processed, failed, or duplicated "
    "(received more than once).",
    "telephone_number": "A number in either form: 9195551234 or +19195551234.",
    "received_after": "Received at or after this ISO 8601 date or date-time.",
    "received_before": "Received before this ISO 8601 date or date-time.",
}
_TIMELINE_PARAMETERS = {
    "order_id": "The order's id (required).",
    "order_type": "The order type, when ids could repeat across types (any case).",
}


class NewestFirst(CursorPagination):
    """Stable pages over a growing table: newest first, by a cursor (no COUNT, no OFFSET)."""

    ordering = ("-received_at", "-id")
    page_size = 50
    page_size_query_param = None

    def decode_cursor(self, request: Request) -> Cursor | None:
        """A cursor this API did not give (forged, truncated, edited) is a 400 naming
        the parameter, never a 404 or, for a position that is not a time, a 500."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": "not a cursor this API gave"}) from None
        # The one date parser: it also refuses a time with no UTC equivalent.
        position = cursor.position if cursor is not None else None
        if position is not None and parse_moment(str(position)) is None:
            raise ValidationError({"cursor": "not a cursor this API gave"})
        return cursor


class OldestFirst(NewestFirst):
    """An order's timeline reads in the order things happened."""

    ordering = ("received_at", "id")


class NotificationList(generics.ListAPIView[Notification]):
    """Notifications, newest first, filtered by the query parameters below."""

    serializer_class = NotificationSummarySerializer
    pagination_class = NewestFirst
    schema = _QueryParameters("Notification", _LIST_PARAMETERS)

    def get_permissions(self) -> list[BasePermission]:
        return read_permissions()

    def get_queryset(self) -> QuerySet[Notification]:
        return filter_notifications(Notification.objects.all(), self.request.query_params)


class NotificationDetail(generics.RetrieveAPIView[Notification]):
    """One notification with its telephone numbers, body, last error and every dispatch
    attempt (a later success does not hide an earlier failure)."""

    serializer_class = NotificationDetailSerializer
    queryset = Notification.objects.prefetch_related("telephone_numbers", "dispatch_attempts")
    schema = AutoSchema(operation_id_base="Notification")

    def get_permissions(self) -> list[BasePermission]:
        return read_permissions()


class OrderTimeline(generics.ListAPIView[Notification]):
    """Every notification of one order, oldest first: ?order_id=…, optionally &order_type=…"""

    serializer_class = NotificationSummarySerializer
    pagination_class = OldestFirst
    schema = _QueryParameters("OrderTimeline", _TIMELINE_PARAMETERS)

    def get_permissions(self) -> list[BasePermission]:
        return read_permissions()

    def get_queryset(self) -> QuerySet[Notification]:
        params = self.request.query_params
        unknown = sorted(set(params) - {"order_id", "order_type", "cursor", "format"})
        if unknown:
            raise ValidationError(
                {name: "unknown parameter; use order_id and order_type" for name in unknown}
            )
        if any("\x00" in value for value in params.values()):
            raise ValidationError({"detail": "parameters must not contain NUL characters"})
        order_id = params.get("order_id", "").strip()
        if not order_id:
            raise ValidationError({"order_id": "required: the order's id as Bandwidth sent it"})
        # The model's timeline rule (the admin's detail page uses the same).
        return Notification.objects.of_order(order_id, params.get("order_type", "").strip())


_ORDER_PARAMETERS = {
    "account": "The BW_NOTIFICATIONS_ACCOUNTS name the order's notifications came to.",
    "order_type": "Order type, any case (e.g. portins).",
    "status": "Current status, any case (e.g. FOC).",
    "order_id": "Exact order id.",
    "customer_order_id": "Exact customer order id.",
    "open": "true: status not final for its type; false: closed.",
    "quiet_days": "Open orders with no news for at least this many days.",
}
_NUMBER_PARAMETERS = {
    "account": "The BW_NOTIFICATIONS_ACCOUNTS name.",
    "state": "in_service, disconnected, ported_out or unknown.",
    "telephone_number": "A number typed any way: 9195551234, +1 919-555-1234…",
    "order_id": "The order that set the number's state.",
    "messaging_lost": "true: a MESSAGING_LOST event hit it since it was put in service.",
}


class _KeyCursor(CursorPagination):
    """Stable pages by a cursor over a text key; a cursor we did not give is a 400."""

    page_size = 100
    page_size_query_param = None

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": "not a cursor this API gave"}) from None


class LatestNewsFirst(NewestFirst):
    """Orders with the most recent news first."""

    ordering = ("-last_notified_at", "-id")


class ByNumber(_KeyCursor):
    """Numbers in E.164 order."""

    ordering = ("e164", "id")


class OrderList(generics.ListAPIView[Order]):
    """The order book: one row per order, the latest news first, filtered below."""

    serializer_class = OrderSerializer
    pagination_class = LatestNewsFirst
    schema = _QueryParameters("Order", _ORDER_PARAMETERS)

    def get_permissions(self) -> list[BasePermission]:
        return read_permissions()

    def get_queryset(self) -> QuerySet[Order]:
        return filter_orders(Order.objects.all(), self.request.query_params)


class OrderDetail(generics.RetrieveAPIView[Order]):
    """One order with its changes (its notifications: ``timeline/?order_id=…``)."""

    serializer_class = OrderDetailSerializer
    queryset = Order.objects.prefetch_related("changes")
    schema = AutoSchema(operation_id_base="Order")

    def get_permissions(self) -> list[BasePermission]:
        return read_permissions()


class NumberList(generics.ListAPIView[AccountNumber]):
    """The number inventory, in E.164 order, filtered below."""

    serializer_class = AccountNumberSerializer
    pagination_class = ByNumber
    schema = _QueryParameters("Number", _NUMBER_PARAMETERS)

    def get_permissions(self) -> list[BasePermission]:
        return read_permissions()

    def get_queryset(self) -> QuerySet[AccountNumber]:
        return filter_numbers(AccountNumber.objects.all(), self.request.query_params)


class NumberDetail(generics.RetrieveAPIView[AccountNumber]):
    """One number with its history."""

    serializer_class = AccountNumberDetailSerializer
    queryset = AccountNumber.objects.prefetch_related("changes")
    schema = AutoSchema(operation_id_base="Number")

    def get_permissions(self) -> list[BasePermission]:
        return read_permissions()


class _ReplaySchema(AutoSchema):
    """A bare POST that answers a ReplayResult."""

    def get_request_body(self, path: str, method: str) -> dict[str, Any]:
        return {}  # nothing to send

    def get_response_serializer(self, path: str, method: str) -> ReplayResultSerializer:
        return ReplayResultSerializer()

    def get_responses(self, path: str, method: str) -> dict[str, Any]:
        # DRF documents a POST as 201; a replay creates nothing and answers 200 or 409.
        documented = super().get_responses(path, method)
        return {
            "200": next(iter(documented.values())),
            "409": {"description": "Being dispatched right now, or dispatched since ?attempts"},
        }


class ApiRoot(APIView):
    """The API's endpoints, by name."""

    schema = None  # a map of the others, not an operation of its own

    def get_permissions(self) -> list[BasePermission]:
        return read_permissions()

    def get(self, request: Request, **kwargs: Any) -> Response:
        namespace = request.resolver_match.namespace if request.resolver_match else ""
        prefix = f"{namespace}:" if namespace else ""
        links = {
            "notifications": reverse(f"{prefix}notification-list", request=request),
            "timeline": reverse(f"{prefix}order-timeline", request=request),
            "orders": reverse(f"{prefix}order-list", request=request),
            "numbers": reverse(f"{prefix}number-list", request=request),
            "health": reverse(f"{prefix}health", request=request),
        }
        with contextlib.suppress(NoReverseMatch):  # the schema needs the api extra
            links["schema"] = reverse(f"{prefix}schema", request=request)
        return Response(links)


class Health(WithinTimeBudget):
    """Are notifications arriving and being handled: each endpoint's last delivery, stuck
    and failed counts, and the problems to look at (ok is false when there are any).
    ``503`` when the database does not answer within the time budget."""

    def get_permissions(self) -> list[BasePermission]:
        return read_permissions()

    def database_unreadable(self, err: DatabaseError) -> Response:
        return self._unavailable("The database did not answer within the time budget.")

    def get(self, request: Request, **kwargs: Any) -> Response:
        try:
            health = check_health(deadline=self.deadline)
        except ImproperlyConfigured as err:  # a health threshold: E014 says so too
            return self._unavailable(str(err))
        return Response(health.as_dict())

    def _unavailable(self, detail: str) -> Response:
        response = Response({"detail": detail}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        response._has_been_logged = True  # type: ignore[attr-defined]  # see ops.views._quiet
        return response


class Replay(APIView):
    """Fire a notification's signals again (receivers get replay=True) and record it.

    A bare POST. 409 when the notification is being dispatched at that moment (another
    operator, a double submit, a worker): it runs once, never twice at once. With
    ?attempts=N (the attempts value you last read) it is replayed only if no other
    dispatch happened since, else 409, so a resent request replays once.
    """

    # No serializer_class: the browsable API would offer the result's fields as a form.
    # A replay is a bare POST; the schema still documents what it answers.
    schema = _ReplaySchema(operation_id_base="NotificationReplay")

    def get_permissions(self) -> list[BasePermission]:
        return replay_permissions()

    def post(self, request: Request, pk: int, **kwargs: Any) -> Response:
        notification = generics.get_object_or_404(Notification.objects.all(), pk=pk)
        expected = request.query_params.get("attempts")
        if expected is not None and not expected.isdigit():
            raise ValidationError({"attempts": "a whole number: the attempts you last read"})
        outcome = replay(notification.pk, attempts=int(expected) if expected is not None else None)
        if outcome is None:
            detail = (
                "This notification was dispatched again since it had that many attempts, "
                "or is being dispatched right now."
                if expected is not None
                else "This notification is being dispatched right now; try again later."
            )
            return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)
        result = {
            "notification": notification.pk,
            "succeeded": outcome.succeeded,
            "receivers_called": outcome.receivers_called,
            "failures": [
                {"receiver": failure.receiver, "error": failure.error}
                for failure in outcome.failures
            ],
        }
        return Response(ReplayResultSerializer(result).data)
