"""``bw_notifications_subscriptions`` against the fake Bandwidth."""

from __future__ import annotations

import json
import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from django_bw_notifications.parsing import parse_xml
from tests.support import PASSWORD, USERNAME, account_settings

ACCOUNT = "9900001"
OURS = "https://example.com/bandwidth/"
WANTED = {"order:orders", "order:portins", "order:disconnects", "event:MESSAGING_LOST"}


def run(*args: str) -> str:
    out = StringIO()
    call_command("bw_notifications_subscriptions", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def kinds(fake: Any, account: str = ACCOUNT) -> set[str]:
    return {
        f"event:{s.event_type}" if s.event_type else f"order:{s.order_type}"
        for s in fake.subscriptions[account].values()
    }


def test_ensure_sets_up_every_type_with_credentials_and_a_long_expiry(fake_bandwidth: Any) -> None:
    output = run("ensure")
    subscriptions = list(fake_bandwidth.subscriptions[ACCOUNT].values())
    assert kinds(fake_bandwidth) == WANTED
    for s in subscriptions:
        assert s.url == OURS
        assert (s.username, s.password) == (USERNAME, PASSWORD)
        assert s.number_format == "E164"
        assert s.expires_at - fake_bandwidth_now() > 3_000_000_000
    assert output.count("created") == 4
    assert PASSWORD not in output + run("list") + run("list", "--json")


def fake_bandwidth_now() -> float:
    return time.time()


def test_ensure_is_idempotent(fake_bandwidth: Any) -> None:
    run("ensure")
    changes = len(fake_bandwidth.changes())
    output = run("ensure")
    assert len(fake_bandwidth.changes()) == changes  # nothing sent
    assert output.count("up to date") == 4


def test_ensure_dry_run_changes_nothing(fake_bandwidth: Any) -> None:
    output = run("ensure", "--dry-run")
    assert fake_bandwidth.changes() == []
    assert output.count("would create") == 4


def test_ensure_mends_what_differs_and_leaves_others_alone(fake_bandwidth: Any) -> None:
    short = fake_bandwidth.add_subscription(
        ACCOUNT,
        order_type="orders",
        url=OURS,
        username=USERNAME,
        password=PASSWORD,
        number_format="E164",
        expiry=3600,
    )
    bare = fake_bandwidth.add_subscription(ACCOUNT, order_type="portins", url=OURS)
    legacy = fake_bandwidth.add_subscription(
        ACCOUNT,
        order_type="disconnects",
        url=OURS,
        username=USERNAME,
        password=PASSWORD,
        number_format="LEGACY",
        expiry=3_122_064_000,
    )
    elsewhere = fake_bandwidth.add_subscription(
        ACCOUNT,
        event_type="MESSAGING_LOST",
        url="https://other.example/",
        username="x",
        password="y",
        expiry=3_122_064_000,
    )
    output = run("ensure")
    assert f"updated {short.id} (expires in" in output
    assert f"updated {bare.id} (no credentials" in output
    assert f"updated {legacy.id} (number format LEGACY" in output
    assert (bare.username, bare.password) == (USERNAME, PASSWORD)
    assert legacy.number_format == "E164"
    assert short.expires_at - fake_bandwidth_now() > 3_000_000_000
    # Another system's subscription is not rewritten; ours is created beside it.
    assert elsewhere.url == "https://other.example/"
    assert elsewhere.password == "y"
    assert "event:MESSAGING_LOST: created" in output


def test_ensure_force_rewrites_credentials(fake_bandwidth: Any, settings: Any) -> None:
    run("ensure")
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT, BASIC_AUTH=[(USERNAME, "rotated-pw")])
    }
    run("ensure")  # same username: cannot tell the password changed
    assert {s.password for s in fake_bandwidth.subscriptions[ACCOUNT].values()} == {PASSWORD}
    run("ensure", "--force")
    assert {s.password for s in fake_bandwidth.subscriptions[ACCOUNT].values()} == {"rotated-pw"}


def test_list_shows_health_for_people_and_scripts(fake_bandwidth: Any) -> None:
    fake_bandwidth.add_subscription(
        ACCOUNT,
        order_type="orders",
        url=OURS,
        username=USERNAME,
        password=PASSWORD,
        number_format="E164",
        status="200 OK",
        expiry=86_400,
    )
    fake_bandwidth.add_subscription(
        ACCOUNT, order_type="portins", url=OURS, status="401 Unauthorized", expiry=500
    )
    table = run("list")
    assert "Account default (9900001): 2 subscription(s)" in table
    assert "401 Unauthorized" in table
    assert " NO" in table
    rows = {r["kind"]: r for r in json.loads(run("list", "--json"))["default"]}
    assert rows["order:orders"]["has_credentials"] is True
    assert rows["order:orders"]["format"] == "E164"
    assert 86_000 < rows["order:orders"]["expiry_seconds"] <= 86_400
    assert rows["order:orders"]["expires_at"].startswith("20")
    assert rows["order:portins"]["has_credentials"] is False
    assert rows["order:portins"]["last_status"] == "401 Unauthorized"
    assert rows["order:portins"]["ours"] is True


def test_renew_extends_only_what_expires_soon_and_only_ours(fake_bandwidth: Any) -> None:
    soon = fake_bandwidth.add_subscription(
        ACCOUNT, order_type="orders", url=OURS, username=USERNAME, password=PASSWORD, expiry=3600
    )
    later = fake_bandwidth.add_subscription(
        ACCOUNT,
        order_type="portins",
        url=OURS,
        username=USERNAME,
        password=PASSWORD,
        expiry=3_122_064_000,
    )
    theirs = fake_bandwidth.add_subscription(
        ACCOUNT, order_type="orders", url="https://other.example/", expiry=3600
    )
    later_expiry = later.expires_at
    output = run("renew")
    assert soon.expires_at - fake_bandwidth_now() > 3_000_000_000
    assert later.expires_at == later_expiry
    assert theirs.expires_at - fake_bandwidth_now() < 3601
    assert f"{theirs.id} (order:orders) points at https://other.example/: not ours" in output
    assert [c.method for c in fake_bandwidth.changes()] == ["PUT"]
    # Run again: nothing left to do.
    assert "nothing expires within" in run("renew")


def test_renew_dry_run_and_threshold(fake_bandwidth: Any) -> None:
    week = fake_bandwidth.add_subscription(
        ACCOUNT,
        order_type="orders",
        url=OURS,
        username=USERNAME,
        password=PASSWORD,
        expiry=7 * 86_400,
    )
    assert "would update" in run("renew", "--before", str(8 * 86_400), "--dry-run")
    assert fake_bandwidth.changes() == []
    assert "nothing expires" in run("renew", "--before", "3600")
    run("renew", "--before", str(8 * 86_400))
    assert week.expires_at - fake_bandwidth_now() > 3_000_000_000


def test_delete_by_id_and_all_ours(fake_bandwidth: Any) -> None:
    run("ensure")
    theirs = fake_bandwidth.add_subscription(ACCOUNT, order_type="orders", url="https://x/")
    one = next(s for s in fake_bandwidth.subscriptions[ACCOUNT].values() if s.url == OURS)
    run("delete", one.id)
    assert one.id not in fake_bandwidth.subscriptions[ACCOUNT]
    run("delete", "--all-ours")
    assert list(fake_bandwidth.subscriptions[ACCOUNT]) == [theirs.id]
    with pytest.raises(CommandError, match=r"404.*not found"):
        run("delete", "no-such-id")
    with pytest.raises(CommandError, match="name the subscriptions"):
        run("delete")


def test_status_is_quiet_when_healthy_and_fails_with_reasons(fake_bandwidth: Any) -> None:
    run("ensure")
    assert "all subscriptions OK" in run("status")
    orders = next(
        s for s in fake_bandwidth.subscriptions[ACCOUNT].values() if s.order_type == "orders"
    )
    orders.status = "503 Service Unavailable"
    orders.expires_at = fake_bandwidth_now() + 60
    fake_bandwidth.add_subscription(ACCOUNT, order_type="csrs", url="https://other.example/")
    del fake_bandwidth.subscriptions[ACCOUNT][
        next(
            s.id
            for s in fake_bandwidth.subscriptions[ACCOUNT].values()
            if s.order_type == "portins"
        )
    ]
    out = StringIO()
    with pytest.raises(CommandError, match="need attention"):
        call_command("bw_notifications_subscriptions", "status", stdout=out)
    text = out.getvalue()
    assert "last delivery failed (503 Service Unavailable)" in text
    assert "expires in" in text
    assert "no callback credentials" in text  # the csrs one
    assert "points elsewhere (https://other.example/)" in text
    assert f"order:portins: no subscription points at {OURS}" in text


def test_bandwidth_errors_exit_non_zero_with_the_reason(fake_bandwidth: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT, API_PASSWORD="wrong")
    }
    with pytest.raises(CommandError, match=r"401.*check the account's API credentials"):
        run("list")
    fake_bandwidth.fail("GET", "/subscriptions$", 503, times=10)
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": account_settings(fake_bandwidth, ACCOUNT)}
    with pytest.raises(CommandError, match="503"):
        run("ensure")


def test_configuration_problems_are_clear(fake_bandwidth: Any, settings: Any) -> None:
    with pytest.raises(CommandError, match="no account 'nope'"):
        run("list", "--account", "nope")
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT, CALLBACK_URL="")
    }
    with pytest.raises(CommandError, match="has no CALLBACK_URL"):
        run("ensure")
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT, BASIC_AUTH=[])
    }
    with pytest.raises(CommandError, match="no callback credentials"):
        run("ensure")
    assert fake_bandwidth.changes() == []
    settings.BW_NOTIFICATIONS_ACCOUNTS = {}
    with pytest.raises(CommandError, match="no accounts"):
        run("list")


def test_several_accounts_act_separately(fake_bandwidth: Any, settings: Any) -> None:
    fake_bandwidth.subscriptions["9900002"] = {}
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT),
        "east": account_settings(
            fake_bandwidth,
            "9900002",
            CALLBACK_URL="https://example.com/bandwidth/notifications/east/",
            ORDER_TYPES=["portins"],
            EVENT_TYPES=[],
        ),
    }
    run("ensure", "--account", "east")
    assert fake_bandwidth.subscriptions[ACCOUNT] == {}
    (east,) = fake_bandwidth.subscriptions["9900002"].values()
    assert (east.order_type, east.url) == (
        "portins",
        "https://example.com/bandwidth/notifications/east/",
    )
    run("ensure")
    assert kinds(fake_bandwidth) == WANTED
    body = parse_xml(fake_bandwidth.changes()[0].body)
    assert (
        body.findtext("CallbackSubscription/URL")
        == "https://example.com/bandwidth/notifications/east/"
    )


def test_renew_keeps_ours_alive_even_when_its_type_is_no_longer_configured(
    fake_bandwidth: Any, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT, ORDER_TYPES=[], EVENT_TYPES=[])
    }
    old = fake_bandwidth.add_subscription(
        ACCOUNT, order_type="csrs", url=OURS, username=USERNAME, password=PASSWORD, expiry=600
    )
    run("renew")
    assert old.expires_at - time.time() > 3_000_000_000
    assert (old.order_type, old.password) == ("csrs", PASSWORD)
