"""The admin answers "what happened to order X / number Y, and did we act on it?".

List columns and badges, every filter, search in all its forms, the detail page's
story (numbers, timeline, same numbers, XML, processing history), replaying, the
permissions around it, and the query shapes that keep it fast on millions of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_bw_notifications import signals
from django_bw_notifications.admin.filters import distinct_values
from django_bw_notifications.models import Notification, ProcessingState
from django_bw_notifications.testing import (
    build_event_notification,
    build_order_notification,
    generate_numbers,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:bw_notifications_notification_changelist")
REPLAY_FAILED = reverse("admin:bw_notifications_notification_replay_failed")


def change_url(notification: Notification) -> str:
    return reverse("admin:bw_notifications_notification_change", args=[notification.pk])


@pytest.fixture
def failing_receiver() -> Iterator[Callable[[], bool]]:
    """While connected, every notification's dispatch fails. Call it to disconnect."""

    def boom(**kwargs: Any) -> None:
        raise RuntimeError("CRM said <b>no</b>")

    signals.notification_received.connect(boom, weak=False)
    yield lambda: signals.notification_received.disconnect(boom)
    signals.notification_received.disconnect(boom)


def shown(response: Any) -> list[Notification]:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.fixture
def order_story(deliver: Callable[..., Notification]) -> list[Notification]:
    """One port-in's life in three notifications, plus unrelated traffic."""
    steps = [
        build_order_notification(
            "portins",
            status,
            order_id="port-1",
            customer_order_id="crm-77",
            subscription_id="sub-portins",
            numbers=["9195551234", "9195551235"],
            last_modified_date=datetime(2026, 3, day, tzinfo=UTC),
        )
        for day, status in ((1, "SUBMITTED"), (2, "FOC"), (3, "COMPLETE"))
    ]
    story = [deliver(body) for body in steps]
    deliver(build_order_notification("orders", "FAILED", numbers=["+19195551234"]))
    deliver(build_event_notification(numbers=["9195550000"], subscription_id="sub-events"))
    return story


# -- list ---------------------------------------------------------------------------


def test_list_shows_status_and_processing_badges(
    admin_client: Client, deliver: Callable[..., Notification], failing_receiver: Any
) -> None:
    deliver(build_order_notification("orders", "FAILED", order_id="o-failed"))
    html = admin_client.get(CHANGELIST).content.decode()
    assert '<span class="bw-badge bw-danger" title="FAILED">FAILED</span>' in html
    assert '<span class="bw-badge bw-danger">Failed</span>' in html  # processing failed


def test_list_costs_the_same_queries_for_3_or_30_rows(
    admin_client: Client, deliver: Callable[..., Notification]
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(captured)

    for _ in range(3):
        deliver(build_order_notification(numbers=generate_numbers(4)))
    few = queries()
    for _ in range(27):
        deliver(build_order_notification(numbers=generate_numbers(4)))
    assert queries() == few


def test_list_runs_no_distinct_scan_and_at_most_one_count(
    admin_client: Client, order_story: list[Notification]
) -> None:
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(CHANGELIST, {"order_type": "portins"})
    assert len(shown(response)) == 3
    statements = [q["sql"].upper() for q in captured]
    assert not [s for s in statements if "SELECT DISTINCT" in s]
    counts = [s for s in statements if "COUNT(" in s]
    # The filtered page's, and the health banner's two, each on the processing_state
    # index (stuck ones; failed ones capped by a LIMIT): never the whole table.
    health = [s for s in counts if "PROCESSING_STATE" in s]
    assert len(counts) - len(health) == 1
    assert len(health) == 2
    assert any("LIMIT 10001" in s for s in health)


def test_distinct_values_reads_each_value_once_in_order(
    order_story: list[Notification],
) -> None:
    assert distinct_values(Notification, "order_type") == ["orders", "portins"]
    assert distinct_values(Notification, "status") == ["COMPLETE", "FAILED", "FOC", "SUBMITTED"]
    assert distinct_values(Notification, "status", where=("order_type", "orders")) == ["FAILED"]
    assert distinct_values(Notification, "status", limit=2) == ["COMPLETE", "FAILED"]
    assert distinct_values(Notification, "event_type") == ["MESSAGING_LOST"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"order_type": "portins"}, ["COMPLETE", "FOC", "SUBMITTED"]),
        ({"status": "FAILED"}, ["FAILED"]),
        ({"order_type": "portins", "status": "FOC"}, ["FOC"]),
        ({"event_type": "MESSAGING_LOST"}, [""]),
        ({"subscription_id": "sub-portins"}, ["COMPLETE", "FOC", "SUBMITTED"]),
        ({"subscription_id": "sub-events"}, [""]),
        ({"processing_state": "processed"}, ["", "FAILED", "COMPLETE", "FOC", "SUBMITTED"]),
        ({"processing_state": "failed"}, []),
        ({"received_at__year": "1999"}, []),
    ],
)
def test_filters(
    admin_client: Client,
    order_story: list[Notification],
    query: dict[str, str],
    expected: list[str],
) -> None:
    assert [n.status for n in shown(admin_client.get(CHANGELIST, query))] == expected


def test_status_filter_lists_only_the_chosen_order_types_statuses(
    admin_client: Client, order_story: list[Notification]
) -> None:
    response = admin_client.get(CHANGELIST, {"order_type": "orders"})
    status_filter = next(f for f in response.context["cl"].filter_specs if f.title == "status")
    assert [value for value, _ in status_filter.lookup_choices] == ["FAILED"]


def test_failed_and_duplicated_filters(
    admin_client: Client,
    deliver: Callable[..., Notification],
    post: Callable[..., Any],
    failing_receiver: Callable[[], None],
) -> None:
    failed = deliver(build_order_notification(order_id="will-fail"))
    failing_receiver()
    body = build_order_notification(order_id="sent-twice")
    twice = deliver(body)
    post(body)  # Bandwidth's copy: a duplicate
    assert [n.pk for n in shown(admin_client.get(CHANGELIST, {"processing_state": "failed"}))] == [
        failed.pk
    ]
    duplicated = shown(admin_client.get(CHANGELIST, {"processing_state": "duplicated"}))
    assert [n.pk for n in duplicated] == [twice.pk]
    assert "+1" in admin_client.get(CHANGELIST).content.decode()  # the copies marker


def test_date_hierarchy_drills_down_without_scanning(
    admin_client: Client, order_story: list[Notification]
) -> None:
    year = order_story[0].received_at.year
    with CaptureQueriesContext(connection) as captured:
        html = admin_client.get(CHANGELIST).content.decode()
    assert f"received_at__year={year}" in html
    assert not [q for q in captured if "DISTINCT" in q["sql"].upper()]
    html = admin_client.get(CHANGELIST, {"received_at__year": year}).content.decode()
    assert f"received_at__month=12&amp;received_at__year={year}" in html
    month = order_story[0].received_at.month
    response = admin_client.get(
        CHANGELIST, {"received_at__year": year, "received_at__month": month}
    )
    assert len(shown(response)) == 5
    assert "received_at__day=28" in response.content.decode()


# -- search -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "statuses"),
    [
        ("port-1", ["COMPLETE", "FOC", "SUBMITTED"]),
        ("  port-1 ", ["COMPLETE", "FOC", "SUBMITTED"]),
        ("crm-77", ["COMPLETE", "FOC", "SUBMITTED"]),
        ("sub-events", [""]),
        ("9195551234", ["FAILED", "COMPLETE", "FOC", "SUBMITTED"]),
        ("+19195551234", ["FAILED", "COMPLETE", "FOC", "SUBMITTED"]),
        ("+19195550000", [""]),
        ("no-such-thing", []),
    ],
)
def test_search_by_ids_and_numbers(
    admin_client: Client, order_story: list[Notification], term: str, statuses: list[str]
) -> None:
    assert [n.status for n in shown(admin_client.get(CHANGELIST, {"q": term}))] == statuses


def test_search_falls_back_to_message_and_note_text(
    admin_client: Client, deliver: Callable[..., Notification]
) -> None:
    deliver(build_order_notification(message="Losing carrier rejected the LOA"))
    deliver(build_order_notification(note="Customer asked to delay the port"))
    noted = shown(admin_client.get(CHANGELIST, {"q": "delay the"}))
    assert [n.note for n in noted] == ["Customer asked to delay the port"]
    assert len(shown(admin_client.get(CHANGELIST, {"q": "losing CARRIER"}))) == 1


def test_an_exact_id_wins_over_text(
    admin_client: Client, deliver: Callable[..., Notification]
) -> None:
    exact = deliver(build_order_notification(order_id="LOA"))
    deliver(build_order_notification(message="Losing carrier rejected the LOA"))
    assert [n.pk for n in shown(admin_client.get(CHANGELIST, {"q": "LOA"}))] == [exact.pk]


# -- detail -------------------------------------------------------------------------


def test_detail_shows_every_parsed_field(
    admin_client: Client, deliver: Callable[..., Notification]
) -> None:
    notification = deliver(
        build_order_notification(
            "portins",
            "FOC",
            order_id="o-42",
            customer_order_id="crm-42",
            subscription_id="sub-42",
            message="FOC date set",
            note="Called the customer",
            last_modified_date="2026-03-01T10:00:00.000Z",
            actual_foc_date="2026-03-05T16:00:00Z",
            extra_elements={"NewThing": "future value"},
        )
    )
    html = admin_client.get(change_url(notification)).content.decode()
    for text in (
        '<code>portins</code> <span class="bw-label">port-in</span>',
        '<span class="bw-badge bw-success" title="FOC (firm order commitment: the port date '
        'is set)">FOC</span>',
        '<span class="bw-label">firm order commitment: the port date is set</span>',
        "o-42",
        "crm-42",
        "sub-42",
        "FOC date set",
        "Called the customer",
        "2026-03-01T10:00:00.000Z",
        "2026-03-05T16:00:00Z",
        "NewThing",
        "future value",
        notification.fingerprint,
    ):
        assert text in html, text


def test_detail_escapes_hostile_text_everywhere(
    admin_client: Client, deliver: Callable[..., Notification], failing_receiver: Any
) -> None:
    hostile = "<script>alert(1)</script>"
    notification = deliver(
        build_order_notification(message=hostile, note=hostile, customer_order_id=hostile)
    )
    html = admin_client.get(change_url(notification)).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the fields
    assert "&amp;lt;script&amp;gt;" in html  # the XML, escaped as text
    assert "CRM said &lt;b&gt;no&lt;/b&gt;" in html  # the traceback
    list_html = admin_client.get(CHANGELIST).content.decode()
    assert "<script>alert" not in list_html


def test_detail_pretty_prints_the_xml_and_keeps_it_as_received(
    admin_client: Client, deliver: Callable[..., Notification]
) -> None:
    notification = deliver(build_order_notification(order_id="o-pretty"))
    html = admin_client.get(change_url(notification)).content.decode()
    assert "&lt;Notification&gt;\n  &lt;Status&gt;COMPLETE&lt;/Status&gt;" in html
    assert "&lt;?xml version=" in html  # the as-received copy keeps the declaration


def test_detail_shows_processing_history(
    admin_client: Client, deliver: Callable[..., Notification], failing_receiver: Any
) -> None:
    notification = deliver(build_order_notification())
    html = admin_client.get(change_url(notification)).content.decode()
    assert '<pre class="bw-traceback">' in html
    assert "Traceback (most recent call last)" in html
    assert "RuntimeError" in html
    assert notification.attempts == 1


def test_detail_pages_5000_numbers(
    admin_client: Client, deliver: Callable[..., Notification]
) -> None:
    numbers = generate_numbers(5000)
    notification = deliver(build_order_notification(numbers=numbers))
    with CaptureQueriesContext(connection) as captured:
        html = admin_client.get(change_url(notification)).content.decode()
    assert numbers[0] in html
    assert numbers[99] in html
    assert f"<td>{numbers[100]}</td>" not in html
    assert "Numbers 1\u2013100 of 5000" in html
    assert "?numbers_page=2#numbers" in html
    assert "the first 100 of these telephone numbers" in html
    # Honest when nothing matched: only 100 of the 5,000 were looked at.
    assert "appear in no other notification" not in html
    assert "The other 4900 were not checked here" in html
    assert len(captured) < 20
    last = admin_client.get(change_url(notification), {"numbers_page": "50"}).content.decode()
    assert f"<td>{numbers[-1]}</td>" in last
    assert f"<td>{numbers[0]}</td>" not in last
    for bad in ("0", "-3", "x", "9999"):
        page = admin_client.get(change_url(notification), {"numbers_page": bad})
        assert page.status_code == 200


def test_detail_links_the_orders_timeline_oldest_first(
    admin_client: Client, order_story: list[Notification]
) -> None:
    middle = order_story[1]
    response = admin_client.get(change_url(middle))
    assert [n.status for n in response.context["timeline"]["rows"]] == [
        "SUBMITTED",
        "FOC",
        "COMPLETE",
    ]
    html = response.content.decode()
    assert change_url(order_story[0]) in html
    assert change_url(order_story[2]) in html
    assert "(this one)" in html


def test_detail_links_other_notifications_of_the_same_numbers(
    admin_client: Client, order_story: list[Notification]
) -> None:
    response = admin_client.get(change_url(order_story[0]))
    others = response.context["same_numbers"]["rows"]
    # The other port-in steps and the order that listed +19195551234 in E.164 form.
    assert [n.status for n in others] == ["FOC", "COMPLETE", "FAILED"]
    html = response.content.decode()
    assert f"{CHANGELIST}?q=%2B19195551234" in html  # each number links to its search


def test_numbers_without_an_e164_form_match_as_sent(
    admin_client: Client, deliver: Callable[..., Notification]
) -> None:
    first = deliver(build_order_notification(numbers=["12345"]))
    second = deliver(build_order_notification(numbers=["12345", "9195550000"]))
    deliver(build_order_notification(numbers=["+12345"]))
    response = admin_client.get(change_url(first))
    assert [n.pk for n in response.context["same_numbers"]["rows"]] == [second.pk]


def test_event_detail_has_no_order_timeline(
    admin_client: Client, order_story: list[Notification]
) -> None:
    event = Notification.objects.get(event_type="MESSAGING_LOST")
    response = admin_client.get(change_url(event))
    assert response.context["timeline"] is None
    assert "Order timeline" not in response.content.decode()


# -- replaying and permissions ------------------------------------------------------


@pytest.fixture
def operator(client: Client) -> Callable[..., Client]:
    """Log in a staff user holding the given permission codenames."""

    def _login(*codenames: str) -> Client:
        user = User.objects.create_user("operator", password="pw", is_staff=True)
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client.force_login(user)
        return client

    return _login


def test_viewers_see_everything_but_cannot_change_or_replay(
    operator: Callable[..., Client], order_story: list[Notification]
) -> None:
    client = operator("view_notification")
    response = client.get(CHANGELIST)
    assert len(shown(response)) == 5
    html = response.content.decode()
    assert "replay_signals" not in html
    assert "Replay failed" not in html
    detail = client.get(change_url(order_story[0]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert client.get(REPLAY_FAILED).status_code == 403
    assert client.post(REPLAY_FAILED).status_code == 403


def test_replay_failed_in_the_current_filter(
    operator: Callable[..., Client],
    deliver: Callable[..., Notification],
    failing_receiver: Callable[[], None],
) -> None:
    port_failed = deliver(build_order_notification("portins", "FOC"))
    order_failed = deliver(build_order_notification("orders", "COMPLETE"))
    failing_receiver()  # receivers work again
    deliver(build_order_notification("portins", "COMPLETE"))
    client = operator("view_notification", "replay_notification")

    listing = client.get(CHANGELIST, {"order_type": "portins"}).content.decode()
    assert f"{REPLAY_FAILED}?order_type=portins" in listing
    confirm = client.get(REPLAY_FAILED, {"order_type": "portins"})
    assert confirm.status_code == 200
    assert confirm.context["failed_count"] == 1
    assert "order type: portins" in confirm.content.decode()  # as the filter panel says

    done = client.post(f"{REPLAY_FAILED}?order_type=portins", follow=True)
    assert "Replayed 1: 1 succeeded, 0 failed." in done.content.decode()
    assert done.redirect_chain[-1][0] == f"{CHANGELIST}?order_type=portins"
    port_failed.refresh_from_db()
    order_failed.refresh_from_db()
    assert (port_failed.processing_state, port_failed.attempts) == (ProcessingState.PROCESSED, 2)
    assert (order_failed.processing_state, order_failed.attempts) == (ProcessingState.FAILED, 1)


def test_replay_failed_reports_failures_and_nothing_to_do(
    admin_client: Client, deliver: Callable[..., Notification], failing_receiver: Any
) -> None:
    deliver(build_order_notification())
    deliver(build_order_notification())
    done = admin_client.post(REPLAY_FAILED, follow=True).content.decode()
    assert "Replayed 2: 0 succeeded, 2 failed." in done
    assert set(Notification.objects.values_list("attempts", flat=True)) == {2}
    nothing = admin_client.get(REPLAY_FAILED, {"order_type": "e911s"}).content.decode()
    assert "No failed notifications" in nothing


def test_replay_failed_with_a_bad_filter_goes_back_with_a_message(admin_client: Client) -> None:
    response = admin_client.get(REPLAY_FAILED, {"no_such_field__gt": "1"}, follow=True)
    assert response.status_code == 200
    assert "not valid" in response.content.decode()


def test_rejected_deliveries_are_read_only(admin_client: Client, post: Callable[..., Any]) -> None:
    post(b"<Order>oops</Order>")
    add = reverse("admin:bw_notifications_rejecteddelivery_add")
    assert admin_client.get(add).status_code == 403
    listing = admin_client.get(reverse("admin:bw_notifications_rejecteddelivery_changelist"))
    assert "root element is &lt;Order&gt;" in listing.content.decode()


def test_counts_stop_at_the_cap(
    admin_client: Client, order_story: list[Notification], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_bw_notifications.admin import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(CHANGELIST)
    html = response.content.decode()
    assert "More than 3 notifications" in html
    assert "Select all matching notifications (more than 3)" in html
    assert [q["sql"] for q in captured if "LIMIT 4" in q["sql"] and "COUNT(" in q["sql"]]
    assert (
        "More than" not in admin_client.get(CHANGELIST, {"order_type": "orders"}).content.decode()
    )


def test_one_request_replays_at_most_the_limit(
    admin_client: Client, order_story: list[Notification], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("django_bw_notifications.admin.notifications.REPLAY_LIMIT", 2)
    data: dict[str, str | list[str]] = {
        "action": "replay_signals",
        "select_across": "1",
        "index": "0",
    }
    data["_selected_action"] = [str(n.pk) for n in order_story]
    html = admin_client.post(CHANGELIST, data, follow=True).content.decode()
    assert "Replayed 2: 2 succeeded, 0 failed." in html
    assert "Only the oldest 2 were replayed" in html
    attempts = Notification.objects.order_by("received_at").values_list("attempts", flat=True)
    assert list(attempts) == [2, 2, 1, 1, 1]


def test_a_nul_in_the_search_is_not_a_500(
    admin_client: Client, order_story: list[Notification]
) -> None:
    # PostgreSQL would refuse the term in a query: the list says so, unfiltered.
    response = admin_client.get(CHANGELIST, {"q": "port-1\x00"}, follow=True)
    assert response.status_code == 200
    assert response.context["cl"].query == ""
    assert "NUL character" in response.content.decode()


def test_the_replay_failed_button_shows_only_when_something_failed(
    admin_client: Client, deliver: Callable[..., Notification], failing_receiver: Any
) -> None:
    failing_receiver()  # receivers work
    deliver(build_order_notification(order_id="fine"))
    assert "Replay failed in this list" not in admin_client.get(CHANGELIST).content.decode()
    Notification.objects.update(processing_state=ProcessingState.FAILED)
    assert "Replay failed in this list" in admin_client.get(CHANGELIST).content.decode()


def test_detail_says_in_or_out_of_order_in_words(
    admin_client: Client, deliver: Callable[..., Notification]
) -> None:
    notification = deliver(build_order_notification(order_id="words"))
    html = admin_client.get(change_url(notification)).content.decode()
    assert "In order" in html
    assert "Actual FOC date" in html
    assert "Remote address" in html
    Notification.objects.filter(pk=notification.pk).update(is_stale=True)
    assert "Out of order" in admin_client.get(change_url(notification)).content.decode()


def test_the_subscription_filter_stays_compact(
    admin_client: Client, deliver: Callable[..., Notification]
) -> None:
    for i in range(3):
        deliver(
            build_order_notification(subscription_id=f"d8274fa6-e49b-469a-93bf-c7dd1761{i:04d}")
        )
    html = admin_client.get(CHANGELIST).content.decode()
    assert "d8274fa6…" in html
    assert "d8274fa6-e49b-469a-93bf-c7dd17610000</a>" not in html  # shortened
    for i in range(3, 14):
        deliver(
            build_order_notification(subscription_id=f"d8274fa6-e49b-469a-93bf-c7dd1761{i:04d}")
        )
    html = admin_client.get(CHANGELIST).content.decode()
    assert "By subscription id" not in html  # too many to list: search instead


def test_a_second_submit_of_the_same_confirmation_replays_nothing_the_first_ran(
    admin_client: Client, deliver: Callable[..., Notification], failing_receiver: Any
) -> None:
    # Still failing after the first submit, so still "failed" for the second: only
    # the moment the page was shown tells a double submit from a new decision.
    deliver(build_order_notification())
    deliver(build_order_notification())
    page = admin_client.get(REPLAY_FAILED)
    shown_at = page.context["shown_at"]
    assert f'name="shown_at" value="{shown_at}"' in page.content.decode()
    first = admin_client.post(REPLAY_FAILED, {"shown_at": shown_at}, follow=True)
    second = admin_client.post(REPLAY_FAILED, {"shown_at": shown_at}, follow=True)
    assert "Replayed 2: 0 succeeded, 2 failed." in first.content.decode()
    assert "Replayed 0: 0 succeeded, 0 failed. 2 skipped" in second.content.decode()
    assert set(Notification.objects.values_list("attempts", flat=True)) == {2}
    # Shown again, it is a new decision: they are replayed once more.
    again = admin_client.get(REPLAY_FAILED).context["shown_at"]
    third = admin_client.post(REPLAY_FAILED, {"shown_at": again}, follow=True)
    assert "Replayed 2: 0 succeeded, 2 failed." in third.content.decode()


def test_the_replay_service_skips_what_ran_since_the_operator_looked(
    deliver: Callable[..., Notification], failing_receiver: Any
) -> None:
    from django.utils import timezone

    from django_bw_notifications.dispatch.scheduling import replay

    notification = deliver(build_order_notification())
    looked = timezone.now()
    assert replay(notification.pk, only_failed=True, not_since=looked) is not None
    # The same decision again (a second shell, a second click): nothing runs.
    assert replay(notification.pk, only_failed=True, not_since=looked) is None
    assert replay(notification.pk, not_since=looked) is None
    notification.refresh_from_db()
    assert notification.attempts == 2
    assert replay(notification.pk, only_failed=True, not_since=timezone.now()) is not None


def test_a_double_submit_of_the_replay_action_runs_each_once(
    admin_client: Client, deliver: Callable[..., Notification], failing_receiver: Any
) -> None:
    first, second = deliver(build_order_notification()), deliver(build_order_notification())
    listing = admin_client.get(CHANGELIST)
    shown_at = listing.context["shown_at"]
    assert f'name="shown_at" value="{shown_at}"' in listing.content.decode()
    form = {
        "action": "replay_signals",
        "_selected_action": [first.pk, second.pk],
        "shown_at": shown_at,
    }
    done = admin_client.post(CHANGELIST, form, follow=True).content.decode()
    again = admin_client.post(CHANGELIST, form, follow=True).content.decode()
    assert "Replayed 2: 0 succeeded, 2 failed." in done
    assert "Replayed 0: 0 succeeded, 0 failed. 2 skipped" in again
    assert set(Notification.objects.values_list("attempts", flat=True)) == {2}
