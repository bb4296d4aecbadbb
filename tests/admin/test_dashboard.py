"""The app index's dashboard: per account, the last day's and week's notifications,
failures and refusals, each linking to the list of what it counts, in two queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from django_bw_notifications.models import Notification, ProcessingState, RejectedDelivery
from django_bw_notifications.templatetags.bw_notifications_dashboard import bw_dashboard

pytestmark = pytest.mark.django_db

HOURS_2, DAYS_3, DAYS_9 = timedelta(hours=2), timedelta(days=3), timedelta(days=9)
PROCESSED, FAILED = ProcessingState.PROCESSED, ProcessingState.FAILED


def _notification(account: str, ago: timedelta, state: str = PROCESSED) -> Notification:
    return Notification.objects.create(
        account=account,
        received_at=timezone.now() - ago,
        processing_state=state,
        order_type="orders",
        fingerprint=uuid4().hex,
    )


def _refused(account: str, ago: timedelta) -> RejectedDelivery:
    return RejectedDelivery.objects.create(
        account=account,
        received_at=timezone.now() - ago,
        status_code=400,
        reason="the body is not XML",
        body_size=0,
    )


@pytest.fixture
def week(settings: Any) -> None:
    """Three accounts: ``default`` (with a row stored before accounts were configured,
    which is its), ``east``, and ``west``, which received nothing; and rows nine days
    old, which no figure counts."""
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": {}, "east": {}, "west": {}}
    _notification("default", HOURS_2)
    _notification("default", HOURS_2, FAILED)
    _notification("default", DAYS_3, FAILED)
    _notification("", DAYS_3)
    _notification("default", DAYS_9, FAILED)
    _notification("east", HOURS_2)
    _notification("east", DAYS_3)
    _notification("east", DAYS_3, FAILED)
    _notification("east", DAYS_9, FAILED)
    _refused("default", HOURS_2)
    _refused("east", DAYS_3)
    _refused("east", DAYS_3)
    _refused("east", DAYS_9)


@dataclass
class Cell:
    text: str = ""
    href: str = ""
    classes: str = ""


class Dashboard(HTMLParser):
    """The dashboard's figures as the page shows them: account, then window ("24 hours",
    "7 days"), then the received, failed and refused cells (a ``<tbody>`` per account)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.accounts: dict[str, dict[str, list[Cell]]] = {}
        self._inside = False
        self._account: Cell | None = None
        self._window: Cell | None = None
        self._figures: list[Cell] = []
        self._cell: Cell | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "div" and "bw-dashboard" in (attributes.get("class") or "").split():
            self._inside = True
        elif not self._inside:
            return
        elif tag == "th" and attributes.get("scope") == "rowgroup":
            self._cell = self._account = Cell()
        elif tag == "th" and attributes.get("scope") == "row":
            self._cell = self._window = Cell()
        elif tag == "td":
            self._cell = Cell()
            self._figures.append(self._cell)
        elif tag == "a" and self._cell is not None:
            self._cell.href = attributes.get("href") or ""
            self._cell.classes = attributes.get("class") or ""

    def handle_endtag(self, tag: str) -> None:
        if not self._inside:
            return
        if tag in ("th", "td") and self._cell is not None:
            self._cell.text = " ".join(self._cell.text.split())
            self._cell = None
        elif tag == "tr" and self._account is not None and self._window is not None:
            windows = self.accounts.setdefault(self._account.text, {})
            windows[self._window.text] = self._figures
            self._window, self._figures = None, []
        elif tag == "table":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.text += data

    @property
    def texts(self) -> dict[str, dict[str, list[str]]]:
        return {
            account: {window: [cell.text for cell in cells] for window, cells in windows.items()}
            for account, windows in self.accounts.items()
        }

    @property
    def figures(self) -> list[Cell]:
        return [
            cell
            for windows in self.accounts.values()
            for cells in windows.values()
            for cell in cells
        ]


def _app_index(client: Client) -> str:
    response = client.get(reverse("admin:app_list", kwargs={"app_label": "bw_notifications"}))
    assert response.status_code == 200
    return response.content.decode()


def _staff(*codenames: str) -> User:
    """A staff user with only these permissions (fetched again: permissions are cached)."""
    user = User.objects.create_user("ops", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)


def _list_count(client: Client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    return int(response.context["cl"].result_count)


def test_figures_per_account_for_the_last_day_and_week(admin_client: Client, week: None) -> None:
    # received, failed, refused
    assert Dashboard(_app_index(admin_client)).texts == {
        "default": {"24 hours": ["2", "1", "1"], "7 days": ["4", "2", "1"]},
        "east": {"24 hours": ["1", "0", "0"], "7 days": ["3", "1", "2"]},
        "west": {"24 hours": ["0", "0", "0"], "7 days": ["0", "0", "0"]},
    }


def test_the_dashboard_is_above_the_model_list(admin_client: Client, week: None) -> None:
    html = _app_index(admin_client)
    assert "bw_notifications/admin.css" in html
    assert "<caption>Notifications per account</caption>" in html
    assert 0 < html.index("bw-dashboard") < html.index('class="model-notification')
    assert 'class="model-rejecteddelivery' in html


def test_each_figure_links_to_the_list_of_what_it_counts(admin_client: Client, week: None) -> None:
    dashboard = Dashboard(_app_index(admin_client))
    assert len(dashboard.figures) == 18
    for cell in dashboard.figures:
        assert cell.href, cell
        assert _list_count(admin_client, cell.href) == int(cell.text), cell

    link = urlsplit(dashboard.accounts["default"]["24 hours"][1].href)  # failed
    assert link.path == reverse("admin:bw_notifications_notification_changelist")
    query = parse_qs(link.query)
    assert query.keys() == {"received_at__gte", "account__in", "processing_state"}
    assert query["account__in"] == ["default,"]  # with the rows stored before accounts
    assert query["processing_state"] == ["failed"]
    since = datetime.fromisoformat(query["received_at__gte"][0])
    assert abs(since - (timezone.now() - timedelta(hours=24))) < timedelta(minutes=1)

    link = urlsplit(dashboard.accounts["east"]["7 days"][2].href)  # refused
    assert link.path == reverse("admin:bw_notifications_rejecteddelivery_changelist")
    query = parse_qs(link.query)
    assert query.keys() == {"received_at__gte", "account__exact"}
    assert query["account__exact"] == ["east"]
    since = datetime.fromisoformat(query["received_at__gte"][0])
    assert abs(since - (timezone.now() - timedelta(days=7))) < timedelta(minutes=1)


def test_only_failures_are_badged(admin_client: Client, week: None) -> None:
    dashboard = Dashboard(_app_index(admin_client))
    badges = {
        account: {window: [cell.classes for cell in cells] for window, cells in windows.items()}
        for account, windows in dashboard.accounts.items()
    }
    danger = "bw-badge bw-danger"
    assert badges == {
        "default": {"24 hours": ["", danger, ""], "7 days": ["", danger, ""]},
        "east": {"24 hours": ["", "", ""], "7 days": ["", danger, ""]},
        "west": {"24 hours": ["", "", ""], "7 days": ["", "", ""]},
    }


def test_without_accounts_the_endpoint_and_accounts_no_longer_configured(
    admin_client: Client,
) -> None:
    _notification("", HOURS_2, FAILED)
    _notification("", DAYS_9)
    _refused("", DAYS_3)
    _notification("north", DAYS_3)  # its account has since been removed from the setting
    dashboard = Dashboard(_app_index(admin_client))
    assert dashboard.texts == {
        "the endpoint": {"24 hours": ["1", "1", "0"], "7 days": ["1", "1", "1"]},
        "north (not configured)": {"24 hours": ["0", "0", "0"], "7 days": ["1", "0", "0"]},
    }
    # The notification list's account filter would ignore "north" (one account or none
    # configured) and read "" as "all": the links filter on the field itself.
    for cell in dashboard.figures:
        assert _list_count(admin_client, cell.href) == int(cell.text), cell


@pytest.mark.parametrize("accounts", [1, 6])
def test_two_queries_whatever_the_rows_and_accounts(
    settings: Any, admin_user: User, django_assert_num_queries: Any, accounts: int
) -> None:
    names = [f"account-{n}" for n in range(accounts)]
    settings.BW_NOTIFICATIONS_ACCOUNTS = {name: {} for name in names}
    for name in names:
        for ago in (HOURS_2, DAYS_3, DAYS_9) * accounts:
            _notification(name, ago, FAILED)
            _refused(name, ago)
    request = RequestFactory().get("/admin/bw_notifications/")
    request.user = admin_user
    app_list = admin.site.get_app_list(request, app_label="bw_notifications")

    with django_assert_num_queries(2):
        context = bw_dashboard(app_list)

    # The plain endpoint records no account while none is called "default" (as health says).
    assert [row.name for row in context["rows"]] == ["the endpoint", *names]
    today, this_week = context["rows"][-1].windows
    assert (today.received.count, today.failed.count, today.refused.count) == (accounts,) * 3
    assert this_week.refused.count == 2 * accounts


@pytest.mark.parametrize(
    ("codenames", "queries"),
    [
        (("view_notification", "view_rejecteddelivery"), 2),
        (("view_notification",), 1),
        (("view_rejecteddelivery",), 0),
    ],
    ids=["both lists", "notifications only", "refused deliveries only"],
)
def test_nothing_is_counted_that_the_user_may_not_see(
    week: None, django_assert_num_queries: Any, codenames: tuple[str, ...], queries: int
) -> None:
    request = RequestFactory().get("/admin/bw_notifications/")
    request.user = _staff(*codenames)
    app_list = admin.site.get_app_list(request, app_label="bw_notifications")

    with django_assert_num_queries(queries):
        context = bw_dashboard(app_list)

    assert context["shown"] is (queries > 0)


def test_hidden_from_users_who_may_not_view_notifications(client: Client, week: None) -> None:
    client.force_login(_staff("view_rejecteddelivery"))
    html = _app_index(client)
    assert 'class="model-rejecteddelivery' in html
    assert "bw-dashboard" not in html
    assert "Notifications per account" not in html


def test_refused_figures_need_the_view_permission_on_refused_deliveries(
    client: Client, week: None
) -> None:
    client.force_login(_staff("view_notification"))
    html = _app_index(client)
    assert Dashboard(html).texts == {
        "default": {"24 hours": ["2", "1"], "7 days": ["4", "2"]},
        "east": {"24 hours": ["1", "0"], "7 days": ["3", "1"]},
        "west": {"24 hours": ["0", "0"], "7 days": ["0", "0"]},
    }
    assert ">refused<" not in html
    assert reverse("admin:bw_notifications_rejecteddelivery_changelist") not in html


def test_an_account_asked_for_by_link_is_applied_with_a_single_account(
    admin_client: Client, settings: Any
) -> None:
    # One account configured: the filter panel hides the account filter, but a link
    # (the dashboard's, a bookmark) with ?account= must still filter, not show all.
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"east": {}}
    east = _notification("east", timedelta(hours=1))
    _notification("", timedelta(hours=1))
    changelist = reverse("admin:bw_notifications_notification_changelist")
    response = admin_client.get(changelist, {"account": "east"})
    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [east.pk]
    everything = admin_client.get(changelist)
    assert len(everything.context["cl"].result_list) == 2
    assert "?account=east" not in everything.content.decode()  # hidden without a choice
