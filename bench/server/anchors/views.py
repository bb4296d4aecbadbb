"""The three anchors our endpoint is measured against (bench only).

* ``bare``: reads the body, answers 200. The cost of Django and the server.
* ``raw``: authenticates like ours, stores the raw body in one INSERT. The least a
  durable receiver can do.
* ``floor``: ``raw``, then the row updated once the (inline) receiver has run: the two
  durable writes any store-then-dispatch receiver needs, and nothing else.
* ``claimed``: ``floor`` with the dispatch our guarantee needs: the body stored
  (committed before the answer), then the row locked in a transaction, the receiver in
  a savepoint, the outcome recorded, committed without waiting for the disk. The least a
  receiver that dispatches exactly once (a killed worker leaves nothing half-done) does.
* ``rows``: ``raw``, plus the numbers (found with ``xml.etree``) as rows of an indexed
  table, in one transaction and two statements: the least a receiver that keeps each
  number searchable must do. The limit of ours at 5,000 numbers.
* ``naive``: ``xml.etree`` (no defusedxml), ``Model.save()`` per telephone number in
  autocommit, the signal sent inline. What a hurried developer writes.
"""

import xml.etree.ElementTree as ET

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from django_bw_notifications.intake.auth import challenge, credentials_accepted

from .models import (
    NaiveNotification,
    NaiveNumber,
    RawDelivery,
    RecordedDelivery,
    RowsDelivery,
    RowsNumber,
)
from .receivers import floor_received, naive_received


def _refused(request: HttpRequest) -> HttpResponse | None:
    if credentials_accepted(
        request.headers.get("Authorization"), settings.BW_NOTIFICATIONS_BASIC_AUTH
    ):
        return None
    response = HttpResponse(status=401)
    response["WWW-Authenticate"] = challenge("bench")
    return response


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    request.body  # noqa: B018 - read it, as every endpoint does
    return HttpResponse("OK")


@csrf_exempt
def raw(request: HttpRequest) -> HttpResponse:
    refused = _refused(request)
    if refused:
        return refused
    RawDelivery.objects.create(body=request.body.decode("utf-8"))
    return HttpResponse("OK")


@csrf_exempt
def floor(request: HttpRequest) -> HttpResponse:
    refused = _refused(request)
    if refused:
        return refused
    delivery = RecordedDelivery.objects.create(body=request.body.decode("utf-8"))
    floor_received.send(sender=RecordedDelivery, delivery=delivery)
    RecordedDelivery.objects.filter(pk=delivery.pk).update(processed=True)
    return HttpResponse("OK")


@csrf_exempt
def naive(request: HttpRequest) -> HttpResponse:
    refused = _refused(request)
    if refused:
        return refused
    root = ET.fromstring(request.body)
    notification = NaiveNotification(
        order_type=root.findtext("OrderType", ""),
        order_id=root.findtext("OrderId", ""),
        status=root.findtext("Status", ""),
        message=root.findtext("Message", ""),
        body=request.body.decode("utf-8"),
    )
    notification.save()
    for element in root.iter("TelephoneNumber"):
        NaiveNumber(notification=notification, number=(element.text or "").strip()).save()
    naive_received.send(sender=NaiveNotification, notification=notification)
    return HttpResponse("OK")


@csrf_exempt
def rows(request: HttpRequest) -> HttpResponse:
    refused = _refused(request)
    if refused:
        return refused
    numbers = [(e.text or "").strip() for e in ET.fromstring(request.body).iter("TelephoneNumber")]
    with transaction.atomic():
        delivery = RowsDelivery.objects.create(body=request.body.decode("utf-8"))
        table = RowsNumber._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"INSERT INTO {table} (delivery_id, number, e164) "
                    "SELECT %s, n, '+1' || n FROM UNNEST(%s::varchar[]) AS n",
                    [delivery.pk, numbers],
                )
            else:
                cursor.executemany(
                    f"INSERT INTO {table} (delivery_id, number, e164) VALUES (%s, %s, %s)",
                    [(delivery.pk, n, "+1" + n) for n in numbers],
                )
    return HttpResponse("OK")


@csrf_exempt
def claimed(request: HttpRequest) -> HttpResponse:
    refused = _refused(request)
    if refused:
        return refused
    delivery = RecordedDelivery.objects.create(body=request.body.decode("utf-8"))
    table = RecordedDelivery._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"SELECT processed, set_config('synchronous_commit', 'off', true) "
                    f"FROM {table} WHERE id = %s FOR UPDATE",
                    [delivery.pk],
                )
            else:
                cursor.execute(
                    f"UPDATE {table} SET processed = processed WHERE id = %s", [delivery.pk]
                )
        sid = getattr(transaction, "savepoint_create", transaction.savepoint)()
        try:
            floor_received.send(sender=RecordedDelivery, delivery=delivery)
        except Exception:
            transaction.savepoint_rollback(sid)
        RecordedDelivery.objects.filter(pk=delivery.pk).update(processed=True)
    return HttpResponse("OK")
