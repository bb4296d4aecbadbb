"""The client and the commands on Bandwidth's answers as Bandwidth shapes them
(``tests/bandwidth/responses/``, reproduced from its SDKs' recorded fixtures and its API
reference), served by the fake Bandwidth over real sockets."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from django_bw_notifications.accounts import get_account
from django_bw_notifications.bandwidth.client import BandwidthAPIError, NumbersClient
from django_bw_notifications.models import Notification, Source
from tests.bandwidth.test_reconcile import store

pytestmark = pytest.mark.django_db

ACCOUNT = "9900001"
SHAPES = Path(__file__).parent / "responses"


def shape(name: str) -> str:
    return (SHAPES / f"{name}.xml").read_text()


def subscriptions(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("bw_notifications_subscriptions", *args, stdout=out, stderr=out)
    except CommandError as err:
        return 1, out.getvalue() + str(err)
    return 0, out.getvalue()


@pytest.fixture
def recorded(fake_bandwidth: Any) -> Any:
    fake_bandwidth.raw_subscriptions[ACCOUNT] = shape("subscriptions_mixed")
    return fake_bandwidth


def test_ready_and_200_are_healthy_a_failed_delivery_is_not(recorded: Any) -> None:
    with NumbersClient(get_account("default")) as client:
        found = {s.id[-4:] if len(s.id) > 4 else s.id: s for s in client.list_subscriptions()}
    assert found["1001"].last_delivery_ok is None  # READY: nothing delivered yet
    assert found["1002"].last_delivery_ok is True
    assert found["1003"].last_delivery_ok is False
    assert (found["7"].is_callback, found["7"].email) == (False, "noc@example.com")
    code, output = subscriptions("status")
    assert code == 1
    assert "last delivery failed (503 Service Unavailable" in output
    assert "1001" not in output  # READY is not a failure
    assert "noc@example.com" not in output
    assert "7 (order:orders)" not in output  # an e-mail subscription is not "insecure"


def test_a_healthy_account_with_ready_subscriptions_passes_status(recorded: Any) -> None:
    body = shape("subscriptions_mixed").replace(
        "503 Service Unavailable: the notification could not be stored", "READY"
    )
    recorded.raw_subscriptions[ACCOUNT] = body
    code, output = subscriptions("status")
    assert code == 0, output


def test_list_shows_email_subscriptions_as_such(recorded: Any) -> None:
    code, output = subscriptions("list")
    assert code == 0
    assert "e-mail: noc@example.com" in output
    rows = json.loads(subscriptions("list", "--json")[1])
    email = next(row for row in rows["default"] if row["id"] == "7")
    assert (email["is_callback"], email["ours"]) == (False, False)
    # Machine-readable: the address is "email"; "url" is a URL or null, never prose.
    assert (email["url"], email["email"]) == (None, "noc@example.com")
    assert all(row["url"].startswith("http") for row in rows["default"] if row["is_callback"])


def test_django_options_are_accepted_after_the_action() -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "bw_notifications_subscriptions",
            "list",
            "--settings",
            "tests.settings",
            "-v",
            "2",
            "--traceback",
            "--no-color",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
    )
    assert "unrecognized arguments" not in done.stderr, done.stderr
    assert "BW_NOTIFICATIONS_ACCOUNTS" in done.stdout + done.stderr  # got to the command


def test_ensure_leaves_email_subscriptions_alone(recorded: Any) -> None:
    code, output = subscriptions("ensure", "--dry-run")
    assert code == 0, output
    # Every configured kind has a callback subscription of ours; the e-mail one is
    # neither counted as ours nor changed.
    assert "create" not in output
    assert " 7" not in output


@pytest.mark.parametrize(
    ("order_type", "name", "status", "numbers", "message"),
    [
        ("orders", "order_complete", "COMPLETE", ("9195550101", "9195550102"), ""),
        (
            "orders",
            "order_partial",
            "PARTIAL",
            ("9195550201",),
            "5005: The telephone number is unavailable for ordering",
        ),
        ("orders", "order_failed", "FAILED", (), "5018: The entire quantity"),
        ("orders", "order_received", "RECEIVED", (), ""),
        (
            "portins",
            "portin_pending_documents",
            "PENDING_DOCUMENTS",
            ("9195550401", "9195550402"),
            "",
        ),
        ("portins", "portin_cancelled", "CANCELLED", ("9195550501",), "7205: Telephone number"),
        ("disconnects", "disconnect_complete", "COMPLETE", ("9195550601",), "5006: The telephone"),
        ("disconnects", "disconnect_failed", "FAILED", (), "5006: The telephone number 9195550701"),
    ],
)
def test_every_order_shape_reads_right(
    fake_bandwidth: Any,
    order_type: str,
    name: str,
    status: str,
    numbers: tuple[str, ...],
    message: str,
) -> None:
    fake_bandwidth.set_order(ACCOUNT, order_type, "o-1", shape(name))
    with NumbersClient(get_account("default")) as client:
        state = client.get_order(order_type, "o-1")
    assert state.status == status
    # A disconnect's numbers are those Bandwidth disconnected, never those asked for.
    assert state.telephone_numbers == numbers
    assert state.message.startswith(message)
    assert state.raw == shape(name)


@pytest.mark.parametrize(
    ("name", "status", "code", "description"),
    [
        ("error_response_status", 400, "12016", "Account '9900001' is not enabled"),
        ("error_response_status", 200, "12016", "Account '9900001' is not enabled"),
        ("error_errors", 400, "5071", "Telephone number is not available"),
        ("error_errors", 200, "5071", "Telephone number is not available"),
        ("error_search_result", 200, "4010", "The state abbreviation NX"),
        ("error_result_code", 200, "1", "No LOA files could be listed"),
        ("error_result_code", 400, "1", "No LOA files could be listed"),
        ("error_search_result", 400, "4010", "The state abbreviation NX"),
    ],
)
def test_every_error_form_keeps_its_code_and_text_even_with_200(
    fake_bandwidth: Any, name: str, status: int, code: str, description: str
) -> None:
    fake_bandwidth.fail("GET", "/subscriptions$", status, body=shape(name))
    with (
        NumbersClient(get_account("default")) as client,
        pytest.raises(BandwidthAPIError) as raised,
    ):
        client.list_subscriptions()
    assert (raised.value.status, raised.value.code) == (status, code)
    assert raised.value.description.startswith(description)
    assert f"{code}: {description}" in str(raised.value)


def test_ensure_changes_nothing_when_the_list_is_an_error_sent_with_200(
    fake_bandwidth: Any,
) -> None:
    fake_bandwidth.fail("GET", "/subscriptions$", 200, body=shape("error_errors"), times=5)
    code, output = subscriptions("ensure")
    assert code == 1
    assert "5071" in output
    assert fake_bandwidth.changes() == []  # no subscription created on a misread list


@pytest.mark.parametrize("name", ["error_errors", "error_search_result", "error_response_status"])
def test_an_order_answer_that_is_an_error_says_so(fake_bandwidth: Any, name: str) -> None:
    fake_bandwidth.set_order(ACCOUNT, "portins", "p-9", shape(name))
    with (
        NumbersClient(get_account("default")) as client,
        pytest.raises(BandwidthAPIError) as raised,
    ):
        client.get_order("portins", "p-9")
    assert raised.value.code


def test_a_failed_order_with_its_error_list_and_200_is_a_state_not_an_error(
    fake_bandwidth: Any,
) -> None:
    fake_bandwidth.set_order(ACCOUNT, "orders", "o-2", shape("order_failed"))
    with NumbersClient(get_account("default")) as client:
        assert client.get_order("orders", "o-2").status == "FAILED"


def test_reconciling_a_disconnect_stores_the_numbers_bandwidth_disconnected(
    fake_bandwidth: Any, recorder: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # A disconnect seen in RECEIVED (not a state Bandwidth notifies, but one an order
    # passes through) is not final: reconcile asks, and records what really happened.
    store("disconnects", "d-9", "RECEIVED")
    fake_bandwidth.set_order(ACCOUNT, "disconnects", "d-9", shape("disconnect_complete"))
    rec = recorder()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("bw_notifications_reconcile", "--older-than", "0", stdout=StringIO())
    reconciled = Notification.objects.get(source=Source.RECONCILED)
    assert reconciled.status == "COMPLETE"
    assert list(reconciled.telephone_numbers.values_list("number", flat=True)) == ["9195550601"]
    assert reconciled.message.startswith("5006: The telephone number 9195550602")
    assert len(rec.calls) == 1
