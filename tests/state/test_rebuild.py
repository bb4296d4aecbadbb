"""The rebuild gives the tables live processing keeps, whatever order deliveries came in."""

# ruff: noqa: S311 - seeded shuffles make a reproducible history, not secrets

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from django_bw_notifications.models import AccountNumber, Notification, Order
from django_bw_notifications.state.transitions import NUMBER_TRANSITIONS
from django_bw_notifications.testing import build_event_notification, build_order_notification

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_state(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_KEEP_STATE = True


DOCS = Path(__file__).resolve().parents[2] / "docs" / "orders-and-numbers.md"
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def a_month(seed: int = 7) -> list[bytes]:
    """A month of one company's notifications: number orders, port-ins with FOC changes
    and notes, disconnects, port-outs, lost messaging, and copies of the same states."""
    rng = random.Random(seed)
    bodies: list[bytes] = []
    clock = START
    owned: list[str] = []

    def tick() -> datetime:
        nonlocal clock
        clock += timedelta(minutes=rng.randint(5, 600))
        return clock

    def order(order_type: str, status: str, order_id: str, numbers: list[str], **kw: Any) -> None:
        kw.setdefault("last_modified_date", tick())
        body = build_order_notification(
            order_type, status, order_id=order_id, numbers=numbers, **kw
        )
        bodies.append(body)
        if rng.random() < 0.2:  # another subscription's copy of the same state
            bodies.append(body.replace(b"<SubscriptionId>", b"<SubscriptionId>copy-", 1))

    for n in range(20):
        numbers = [f"+1919555{n:02d}{k}" for k in range(rng.randint(1, 3))]
        status = rng.choice(["COMPLETE", "COMPLETE", "PARTIAL", "FAILED"])
        order("orders", status, f"ord-{n}", numbers, customer_order_id=f"cust-{n}")
        if status != "FAILED":
            owned += numbers
    for n in range(8):
        numbers = [f"+1984555{n:02d}{k}" for k in range(2)]
        order("portins", "SUBMITTED", f"port-{n}", numbers)
        order("portins", "FOC", f"port-{n}", numbers, actual_foc_date=tick() + timedelta(days=5))
        if rng.random() < 0.5:
            order(
                "portins", "FOC", f"port-{n}", numbers, actual_foc_date=tick() + timedelta(days=9)
            )
        order("portins", "SUBMITTED", f"port-{n}", numbers, note=f"note {n}")
        order("portins", "COMPLETE", f"port-{n}", numbers)
        owned += numbers
    for n, number in enumerate(rng.sample(owned, 6)):
        order("disconnects", "COMPLETE", f"disc-{n}", [number])
    for n, number in enumerate(rng.sample(owned, 3)):
        order("portouts", "COMPLETE", f"out-{n}", [number])
    for number in rng.sample(owned, 4):
        bodies.append(build_event_notification(numbers=[number]))
    return bodies


def tables() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    orders = sorted(
        (
            o.account,
            o.order_type.casefold(),
            o.order_id,
            o.status,
            o.status_since,
            o.customer_order_id,
            o.actual_foc_date,
            o.first_notified_at,
            o.last_notified_at,
            o.closed,
        )
        for o in Order.objects.all()
    )
    numbers = sorted(
        AccountNumber.objects.values_list(
            "account",
            "e164",
            "state",
            "order_type",
            "order_id",
            "state_since",
            "messaging_lost",
            "messaging_lost_at",
        )
    )
    links = sorted(Notification.objects.values_list("id", "order_entry__order_id", "copy_of_id"))
    return orders, numbers, links


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_shuffled_month_rebuilds_to_the_tables_live_processing_kept(
    deliver: Any, seed: int
) -> None:
    bodies = a_month()
    random.Random(seed).shuffle(bodies)
    for body in bodies:
        deliver(body)
    live = tables()
    assert len(live[0]) == 20 + 8 + 6 + 3
    assert AccountNumber.objects.filter(state="in_service").exists()
    assert AccountNumber.objects.filter(messaging_lost=True).exists()
    assert Notification.objects.filter(copy_of__isnull=False).exists()
    out = StringIO()
    call_command("bw_notifications_rebuild_state", stdout=out)
    assert tables() == live
    assert f"{Notification.objects.count()} notifications" in out.getvalue()


def test_the_order_of_arrival_does_not_change_the_state(deliver: Any) -> None:
    bodies = a_month()
    for body in bodies:
        deliver(body)
    in_order = tables()[:2]
    Notification.objects.all().delete()
    Order.objects.all().delete()
    AccountNumber.objects.all().delete()
    shuffled = bodies[:]
    random.Random(11).shuffle(shuffled)
    for body in shuffled:
        deliver(body)

    # Arrival times differ between the two runs; the rest of the state may not.
    def without_arrivals(state: tuple[list[Any], list[Any]]) -> tuple[list[Any], list[Any]]:
        orders = [row[:7] + row[9:] for row in state[0]]
        numbers = [row[:6] + row[6:7] for row in state[1]]
        return orders, numbers

    assert without_arrivals(tables()[:2]) == without_arrivals(in_order)


def test_rebuild_fills_the_tables_of_an_installation_that_had_none(
    deliver: Any, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_KEEP_STATE = False
    for body in a_month()[:30]:
        deliver(body)
    assert not Order.objects.exists()
    call_command("bw_notifications_rebuild_state", "--account", "", stdout=StringIO())
    assert Order.objects.exists()
    assert (
        Notification.objects.filter(order_entry__isnull=False).count()
        == Notification.objects.exclude(order_id="").count()
    )


def test_rebuild_of_one_account_leaves_the_others(deliver: Any) -> None:
    for body in a_month()[:10]:
        deliver(body)
    Order.objects.create(
        account="east",
        order_type="orders",
        order_id="kept",
        status="COMPLETE",
        status_since=START,
        first_notified_at=START,
        last_notified_at=START,
    )
    before = Order.objects.filter(account="").count()
    out = StringIO()
    call_command("bw_notifications_rebuild_state", "--account", "", stdout=out)
    assert Order.objects.filter(account="east", order_id="kept").exists()
    assert Order.objects.filter(account="").count() == before
    assert "notifications without an account" in out.getvalue()
    # An account with rows but no notifications is rebuilt to nothing.
    call_command("bw_notifications_rebuild_state", "--account", "east", stdout=StringIO())
    assert not Order.objects.filter(account="east").exists()


def test_rebuild_refuses_an_unknown_account() -> None:
    with pytest.raises(CommandError, match=r"no account 'nope'"):
        call_command("bw_notifications_rebuild_state", "--account", "nope")


def test_a_notification_not_yet_dispatched_is_left_to_its_dispatch(post: Any) -> None:
    assert post(build_order_notification("orders", "COMPLETE", order_id="later")).status_code == 200
    call_command("bw_notifications_rebuild_state", stdout=StringIO())
    assert not Order.objects.exists()


def test_the_docs_show_the_transition_table_the_code_uses() -> None:
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| `(\w+)` \|$", DOCS.read_text(), re.M)
    assert {(t, s): state for t, s, state in rows} == {
        key: str(state) for key, state in NUMBER_TRANSITIONS.items()
    }
