"""Order types, statuses and event types keep Bandwidth's spelling, with the catalogue's
readable label beside it where it knows one (issue 24, item 4)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from django_bw_notifications import catalog
from tests.support import notification_xml, payload

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:bw_notifications_notification_changelist"


def test_every_label_names_something_the_catalogue_knows() -> None:
    assert set(catalog.ORDER_TYPE_LABELS) <= set(catalog.ORDER_STATUSES)
    assert set(catalog.STATUS_LABELS) <= set(catalog.all_statuses())
    assert set(catalog.EVENT_TYPE_LABELS) <= set(catalog.EVENT_TYPES)
    # Every order type has one (looked up in any case: Bandwidth spells one two ways).
    assert all(catalog.order_type_label(name) for name in catalog.ORDER_STATUSES)


@pytest.mark.parametrize(
    ("lookup", "name", "label"),
    [
        (catalog.order_type_label, "portins", "port-in"),
        (catalog.order_type_label, "PortIns", "port-in"),  # any case
        (catalog.status_label, "foc", "firm order commitment: the port date is set"),
        (catalog.status_label, "COMPLETE", ""),  # says itself
        (catalog.status_label, "SOMETHING_NEW", ""),
        (catalog.event_type_label, "MESSAGING_LOST", "messaging moved to another provider"),
    ],
)
def test_labels_are_looked_up_in_any_case(lookup: Any, name: str, label: str) -> None:
    assert lookup(name) == label
    assert catalog.with_label(name, label) == (f"{name} ({label})" if label else name)


def test_filters_show_the_spelling_and_the_label(admin_client: Client, deliver: Any) -> None:
    deliver(notification_xml(order_type="portins", status="FOC", order_id="p-1"))
    deliver(notification_xml(order_type="brandNewOrders", status="WEIRD", order_id="b-1"))
    deliver(payload("16"))  # an event notification
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "portins (port-in)" in html
    assert "FOC (firm order commitment: the port date is set)" in html
    # Unknown names are listed as sent, nothing invented beside them.
    assert ">brandNewOrders</a>" in html
    assert ">WEIRD</a>" in html
    # The list keeps Bandwidth's spelling in the column, the label on hover.
    assert 'title="portins (port-in)">portins</span>' in html


def test_the_filter_link_still_filters_by_the_value_as_sent(
    admin_client: Client, deliver: Any
) -> None:
    deliver(notification_xml(order_type="portins", status="FOC", order_id="p-1"))
    deliver(notification_xml(order_type="orders", status="COMPLETE", order_id="o-1"))
    response = admin_client.get(reverse(CHANGELIST), {"status": "FOC"})
    assert response.context["cl"].result_count == 1
