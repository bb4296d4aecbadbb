"""``bw_notifications_subscriptions``: a dry-run delete, status for scripts, an empty
account, an account without a callback URL, a subscription under another username, and
accounts that cannot call the Numbers API at all. Against the fake Bandwidth."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.support import PASSWORD, USERNAME, account_settings

ACCOUNT = "9900001"
OURS = "https://example.com/bandwidth/"


def run(*args: str) -> str:
    out = StringIO()
    call_command("bw_notifications_subscriptions", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_dry_run_delete_names_what_it_would_delete_and_deletes_nothing(
    fake_bandwidth: Any,
) -> None:
    run("ensure")
    before = set(fake_bandwidth.subscriptions[ACCOUNT])
    output = run("delete", "--all-ours", "--dry-run")
    assert set(fake_bandwidth.subscriptions[ACCOUNT]) == before
    assert sorted(line.rsplit(" ", 1)[1] for line in output.splitlines()) == sorted(before)
    assert all(line.startswith("[default] would delete ") for line in output.splitlines())
    assert [c.method for c in fake_bandwidth.changes()] == ["POST"] * 4  # ensure's, no DELETE


def test_status_for_scripts_is_json_only_and_still_fails(fake_bandwidth: Any) -> None:
    run("ensure")
    next(iter(fake_bandwidth.subscriptions[ACCOUNT].values())).status = "503 Service Unavailable"
    out = StringIO()
    with pytest.raises(CommandError, match="need attention"):
        call_command("bw_notifications_subscriptions", "status", "--json", stdout=out)
    [problem] = json.loads(out.getvalue())["default"]
    assert problem.endswith("last delivery failed (503 Service Unavailable)")


def test_an_account_without_subscriptions_lists_a_count_and_no_table(fake_bandwidth: Any) -> None:
    assert run("list") == "Account default (9900001): 0 subscription(s)\n"


def test_without_a_callback_url_status_does_not_ask_for_one(
    fake_bandwidth: Any, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT, CALLBACK_URL="")
    }
    fake_bandwidth.add_subscription(
        ACCOUNT, order_type="orders", url=OURS, username=USERNAME, password=PASSWORD
    )
    out = StringIO()
    with pytest.raises(CommandError, match="need attention"):
        call_command("bw_notifications_subscriptions", "status", stdout=out)
    # Nowhere to point at, so nothing is "missing"; the one there is points elsewhere.
    assert "no subscription points at" not in out.getvalue()
    assert f"points elsewhere ({OURS})" in out.getvalue()


def test_ensure_rewrites_a_subscription_under_another_username(fake_bandwidth: Any) -> None:
    other = fake_bandwidth.add_subscription(
        ACCOUNT,
        order_type="orders",
        url=OURS,
        username="old-user",
        password="old-password-123456",
        number_format="E164",
        expiry=3_122_064_000,
    )
    output = run("ensure")
    assert f"updated {other.id} (username 'old-user')" in output
    assert (other.username, other.password) == (USERNAME, PASSWORD)


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        # An entry E012 refuses is refused as the check words it, before any account runs.
        (("ACCOUNT_ID",), r"^\S+\['default'\] has Numbers API credentials but no ACCOUNT_ID"),
        (
            ("API_USERNAME", "API_PASSWORD"),
            r"1 account\(s\) failed: default: .*\['default'\] has no API credentials",
        ),
    ],
)
def test_an_account_that_cannot_call_the_api_fails_before_any_call(
    fake_bandwidth: Any, settings: Any, missing: tuple[str, ...], message: str
) -> None:
    entry = account_settings(fake_bandwidth, ACCOUNT)
    for key in missing:
        del entry[key]
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": entry}
    with pytest.raises(CommandError, match=message):
        run("list")
    assert fake_bandwidth.calls == []


def test_a_misconfigured_account_named_on_the_command_line_says_what_is_wrong(
    fake_bandwidth: Any, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT, EXPIRY=60)
    }
    with pytest.raises(CommandError, match=r"\['EXPIRY'\] must be whole seconds, at least 3600"):
        run("list", "--account", "default")
    assert fake_bandwidth.calls == []
