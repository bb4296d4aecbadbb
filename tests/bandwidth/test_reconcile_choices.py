"""bw_notifications_reconcile: choosing order types (in any case), an answer from
Bandwidth that carries no status, and arguments that cannot be right."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from django_bw_notifications.models import Notification
from tests.bandwidth.test_reconcile import ACCOUNT, portin_xml, store

pytestmark = pytest.mark.django_db


def test_only_the_order_types_asked_for_are_checked_whatever_their_case(
    fake_bandwidth: Any,
) -> None:
    store("portins", "p-1", "SUBMITTED")
    store("orders", "o-1", "BACKORDERED")
    fake_bandwidth.set_order(ACCOUNT, "portins", "p-1", portin_xml("p-1", "COMPLETE"))
    call_command("bw_notifications_reconcile", "--order-type", "PortIns", stdout=StringIO())
    asked = [c.path for c in fake_bandwidth.calls if "/accounts/" in c.path]
    assert asked == [f"/api/accounts/{ACCOUNT}/portins/p-1"]
    assert Notification.objects.filter(order_id="p-1", status="COMPLETE").exists()
    assert not Notification.objects.filter(order_id="o-1").exclude(status="BACKORDERED").exists()


def test_an_answer_without_a_status_is_reported_and_nothing_is_stored(
    fake_bandwidth: Any,
) -> None:
    store("portins", "p-2", "SUBMITTED")
    without_status = portin_xml("p-2", "").replace("<ProcessingStatus></ProcessingStatus>", "")
    fake_bandwidth.set_order(ACCOUNT, "portins", "p-2", without_status)
    err = StringIO()
    with pytest.raises(CommandError, match=r"could not be asked about 1 order"):
        call_command("bw_notifications_reconcile", stdout=StringIO(), stderr=err)
    assert "Bandwidth's answer for portins p-2 has no status" in err.getvalue()
    assert Notification.objects.filter(order_id="p-2").count() == 1


@pytest.mark.parametrize("args", [("--older-than", "-1"), ("--within-days", "0")])
def test_impossible_windows_are_refused(fake_bandwidth: Any, args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError, match="--older-than must be >= 0 and --within-days > 0"):
        call_command("bw_notifications_reconcile", *args, stdout=StringIO())
    assert fake_bandwidth.calls == []
