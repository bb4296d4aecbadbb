"""``bw_notifications_inventory``: the inventory against Bandwidth's in-service numbers,
over real sockets to the fake Bandwidth, and the recorded answer shapes read right."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from django_bw_notifications.accounts import get_account
from django_bw_notifications.bandwidth.client import BandwidthAPIError, NumbersClient
from django_bw_notifications.bandwidth.resources import read_numbers_page
from django_bw_notifications.models import AccountNumber
from tests.support import account_settings, notification_xml

pytestmark = pytest.mark.django_db

ACCOUNT = "9900001"
RESPONSES = Path(__file__).parent / "responses"


def response(name: str) -> str:
    return (RESPONSES / name).read_text()


def inventory(*args: str) -> tuple[int, str, str]:
    """Run the command: its exit status, stdout and stderr."""
    out, err = StringIO(), StringIO()
    try:
        call_command("bw_notifications_inventory", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


# --- the recorded shapes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "numbers", "total", "next_page"),
    [
        ("in_service_one_page.xml", ("9195550101", "9195550102", "9195550103"), 3, ""),
        ("in_service_page_1_of_2.xml", ("9195550201", "9195550202"), 3, "9195550203"),
        ("in_service_page_2_of_2.xml", ("9195550203",), 3, ""),
        ("in_service_e164_empty_next.xml", ("+19195550301", "+19195550302"), 2, ""),
        ("in_service_next_in_comment.xml", ("9195550401",), 2, "9195550402"),
    ],
)
def test_each_recorded_shape_is_read(
    name: str, numbers: tuple[str, ...], total: int, next_page: str
) -> None:
    page = read_numbers_page(response(name))
    assert (page.numbers, page.total, page.next_page) == (numbers, total, next_page)


def test_an_empty_answer_is_an_empty_last_page_and_other_xml_is_refused() -> None:
    assert read_numbers_page("") == read_numbers_page("  \n")
    assert read_numbers_page("").numbers == ()
    with pytest.raises(ValueError, match="not a <TNs>"):
        read_numbers_page("<Errors><Error><Code>5</Code></Error></Errors>")
    with pytest.raises(ValueError, match="not XML"):
        read_numbers_page("<html>oops")


# --- the client's paging ------------------------------------------------------------------


def test_the_client_pages_by_key_through_the_fake(fake_bandwidth: Any) -> None:
    fake_bandwidth.in_service[ACCOUNT] = [f"91955506{i:02d}" for i in range(5)]
    with NumbersClient(get_account("default")) as client:
        numbers = client.in_service_numbers(page_size=2)
    assert numbers == [f"91955506{i:02d}" for i in range(5)]
    pages = [c.query for c in fake_bandwidth.calls if c.path.endswith("/inserviceNumbers")]
    assert pages == ["page=1&size=2", "page=9195550602&size=2", "page=9195550604&size=2"]


def test_the_client_follows_recorded_pages_and_only_their_key(fake_bandwidth: Any) -> None:
    # The recorded link names dashboard.bandwidth.com: the next call still goes to the
    # account's own base URL (the fake), with the link's page key.
    fake_bandwidth.raw_in_service[(ACCOUNT, "1")] = response("in_service_page_1_of_2.xml")
    fake_bandwidth.raw_in_service[(ACCOUNT, "9195550203")] = response("in_service_page_2_of_2.xml")
    with NumbersClient(get_account("default")) as client:
        assert client.in_service_numbers(page_size=2) == [
            "9195550201",
            "9195550202",
            "9195550203",
        ]


def test_a_page_that_points_back_is_an_error_not_a_loop(fake_bandwidth: Any) -> None:
    fake_bandwidth.raw_in_service[(ACCOUNT, "1")] = response("in_service_page_1_of_2.xml")
    fake_bandwidth.raw_in_service[(ACCOUNT, "9195550203")] = response("in_service_page_1_of_2.xml")
    with (
        NumbersClient(get_account("default")) as client,
        pytest.raises(BandwidthAPIError, match="pages loop"),
    ):
        client.in_service_numbers(page_size=2)


# --- the command ------------------------------------------------------------------------


@pytest.fixture
def numbers_in_service(fake_bandwidth: Any, deliver: Any) -> None:
    """The inventory: +19195550701..703 in service (one order), +19195550704 put in
    service then disconnected."""
    deliver(
        notification_xml(
            order_id="inv-1", numbers=("9195550701", "9195550702", "9195550703", "9195550704")
        )
    )
    deliver(notification_xml(order_type="disconnects", order_id="inv-2", numbers=("9195550704",)))
    assert AccountNumber.objects.in_service().count() == 3


@pytest.mark.usefixtures("numbers_in_service")
def test_agreement_exits_zero(fake_bandwidth: Any) -> None:
    # Bandwidth writes some as 10 digits, some in E.164: the same numbers.
    fake_bandwidth.in_service[ACCOUNT] = ["9195550701", "+19195550702", "9195550703"]
    status, out, _ = inventory()
    assert status == 0
    assert "3 in service at Bandwidth, 3 in the inventory; 0 only at Bandwidth, 0 only" in out


@pytest.mark.usefixtures("numbers_in_service")
def test_drift_both_ways_is_reported_and_exits_one(fake_bandwidth: Any) -> None:
    # Bandwidth: 701 and 702 (703 gone there), 704 (disconnected here) and 799 (unknown).
    fake_bandwidth.in_service[ACCOUNT] = ["9195550701", "9195550702", "9195550704", "9195550799"]
    status, out, err = inventory()
    assert status == 1
    assert "4 in service at Bandwidth, 3 in the inventory; 2 only at Bandwidth, 1 only" in out
    assert "only at Bandwidth: +19195550704 (the inventory has it disconnected)" in out
    assert "only at Bandwidth: +19195550799 (the inventory has no record)" in out
    assert "only in the inventory: +19195550703 (in service by orders inv-1 since" in out
    assert "differs from Bandwidth for default" in err


@pytest.mark.usefixtures("numbers_in_service")
def test_json_says_the_same(fake_bandwidth: Any) -> None:
    fake_bandwidth.in_service[ACCOUNT] = ["+19195550701", "9195550702", "9195550799"]
    status, out, _ = inventory("--json")
    assert status == 1
    document = json.loads(out)
    assert document["drift"] is True
    [account] = document["accounts"]
    assert (account["account"], account["account_id"]) == ("default", ACCOUNT)
    assert account["only_at_bandwidth"] == [{"number": "+19195550799", "inventory_state": None}]
    [only_here] = account["only_in_inventory"]
    assert (only_here["number"], only_here["order_type"], only_here["order_id"]) == (
        "+19195550703",
        "orders",
        "inv-1",
    )
    assert account["error"] == ""


def test_an_empty_account_and_an_empty_inventory_agree(fake_bandwidth: Any) -> None:
    status, out, _ = inventory("--json")  # the fake answers 204 with no body
    assert status == 0
    assert json.loads(out)["accounts"][0]["bandwidth_in_service"] == 0
    assert [c.query for c in fake_bandwidth.calls] == ["page=1&size=1000"]


@pytest.mark.usefixtures("numbers_in_service")
def test_an_empty_account_drifts_from_a_full_inventory(fake_bandwidth: Any) -> None:
    status, out, _ = inventory()
    assert status == 1
    assert "0 in service at Bandwidth, 3 in the inventory; 0 only at Bandwidth, 3 only" in out


def test_each_account_is_compared_with_its_own_numbers(
    fake_bandwidth: Any, settings: Any, deliver: Any
) -> None:
    fake_bandwidth.subscriptions["9900002"] = {}
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        **settings.BW_NOTIFICATIONS_ACCOUNTS,
        "second": account_settings(fake_bandwidth, "9900002"),
    }
    deliver(notification_xml(order_id="inv-d", numbers=("9195550801",)))  # default's
    AccountNumber.objects.create(
        account="second", e164="+19195550802", state="in_service", state_since="2026-12-01T00:00Z"
    )
    fake_bandwidth.in_service[ACCOUNT] = ["9195550801"]
    fake_bandwidth.in_service["9900002"] = ["9195550802"]
    assert inventory()[0] == 0
    status, out, _ = inventory("--account", "second", "--json")
    assert status == 0
    assert [a["account"] for a in json.loads(out)["accounts"]] == ["second"]


@pytest.mark.usefixtures("numbers_in_service")
def test_bandwidth_refusing_exits_two_with_its_reason(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail("GET", "/inserviceNumbers", 403, body="<Errors/>")
    status, _, err = inventory()
    assert status == 2
    assert "default (9900001): " in err
    assert "403" in err
    assert "could not compare account(s) default" in err


def test_an_answer_that_is_not_a_numbers_list_exits_two(fake_bandwidth: Any) -> None:
    fake_bandwidth.raw_in_service[(ACCOUNT, "1")] = "<Subscriptions/>"
    status, _, err = inventory()
    assert status == 2
    assert "is a <Subscriptions>, not a <TNs>" in err


def test_without_api_credentials_it_says_what_is_missing(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {}
    status, _, err = inventory()
    assert status == 2
    assert "no account in BW_NOTIFICATIONS_ACCOUNTS has an ACCOUNT_ID and API credentials" in err
    status, _, err = inventory("--account", "nope")
    assert status == 2
    assert "no account 'nope'" in err


def test_a_page_size_out_of_range_is_refused(fake_bandwidth: Any) -> None:
    assert inventory("--page-size", "0")[0] == 2
    assert inventory("--page-size", "5001")[0] == 2
