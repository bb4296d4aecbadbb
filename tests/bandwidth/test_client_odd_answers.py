"""The Numbers API client meets answers that are not what Bandwidth documents: each one is
a clear :class:`BandwidthAPIError` (or, where Bandwidth's intent is plain, a result),
never a crash deeper down. Against the fake Bandwidth, over real sockets."""

from __future__ import annotations

from typing import Any

import pytest

from django_bw_notifications.accounts import get_account
from django_bw_notifications.bandwidth.client import (
    BandwidthAPIError,
    NumbersClient,
    SubscriptionSpec,
)
from tests.support import account_settings

ACCOUNT = "9900001"
SPEC = SubscriptionSpec(
    order_type="orders",
    url="https://example.com/bandwidth/",
    username="bandwidth",
    password="s3cret-callback-password",
    expiry=3122064000,
)


def client() -> NumbersClient:
    return NumbersClient(get_account("default"), max_retries=0)


def use_oauth(fake: Any, settings: Any, **overrides: Any) -> None:
    entry = account_settings(fake, ACCOUNT)
    del entry["API_USERNAME"], entry["API_PASSWORD"]
    entry.update(CLIENT_ID=fake.oauth_client[0], CLIENT_SECRET=fake.oauth_client[1], **overrides)
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": entry}


def test_a_subscription_answer_without_a_subscription_is_an_error(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail("GET", "/subscriptions/s-1$", 200, body="<SubscriptionResponse/>")
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.get_subscription("s-1")
    assert str(caught.value) == ("Bandwidth's answer for subscription s-1 holds no <Subscription>")


def test_a_created_subscription_without_location_takes_its_id_from_the_body(
    fake_bandwidth: Any,
) -> None:
    fake_bandwidth.fail(
        "POST",
        "/subscriptions$",
        201,
        body="<SubscriptionResponse><SubscriptionId>s-from-body</SubscriptionId>"
        "</SubscriptionResponse>",
    )
    with client() as api:
        assert api.create_subscription(SPEC) == "s-from-body"


def test_a_created_subscription_whose_id_is_nowhere_is_an_error(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail("POST", "/subscriptions$", 201, body="")
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.create_subscription(SPEC)
    assert caught.value.status == 201
    assert "did not say its id" in str(caught.value)
    # Created (Bandwidth said 201): never sent twice.
    assert len(fake_bandwidth.changes()) == 1


def test_an_answer_that_is_not_xml_is_an_error(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail("GET", "/subscriptions$", 200, body="<html>maintenance")
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.list_subscriptions()
    # Which account, at which base URL: a wrong API_BASE_URL shows at once.
    assert str(caught.value) == (
        f"Bandwidth's answer to GET /subscriptions (account 'default' at "
        f"{fake_bandwidth.base_url}) is not XML"
    )
    assert caught.value.status == 200


def test_a_refusal_in_plain_text_is_quoted_in_the_error(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail("GET", "/subscriptions$", 404, body="Not   here,\n  try later")
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.list_subscriptions()
    assert caught.value.description == "Not here, try later"
    assert str(caught.value) == (
        f"Bandwidth answered 404 to GET /subscriptions (account 'default' at "
        f"{fake_bandwidth.base_url}): Not here, try later"
    )


def test_a_result_code_of_zero_is_success_not_a_refusal(fake_bandwidth: Any) -> None:
    fake_bandwidth.set_order(
        ACCOUNT,
        "orders",
        "o-1",
        "<OrderResponse><resultCode>0</resultCode><resultMessage>OK</resultMessage>"
        "<OrderStatus>COMPLETE</OrderStatus></OrderResponse>",
    )
    with client() as api:
        assert api.get_order("orders", "o-1").status == "COMPLETE"


def test_an_unreachable_token_endpoint_is_named(fake_bandwidth: Any, settings: Any) -> None:
    use_oauth(fake_bandwidth, settings, TOKEN_URL="http://127.0.0.1:9/token")
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.list_subscriptions()
    assert str(caught.value) == (
        "could not reach Bandwidth's token endpoint http://127.0.0.1:9/token for account "
        "'default': ConnectError"
    )
    assert not [c for c in fake_bandwidth.calls if "/accounts/" in c.path]


def test_a_token_answer_that_is_not_json_gives_no_token(fake_bandwidth: Any, settings: Any) -> None:
    use_oauth(fake_bandwidth, settings)
    fake_bandwidth.fail("POST", "/oauth2/token$", 200, body="<html>login</html>")
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.list_subscriptions()
    assert str(caught.value) == "Bandwidth's token endpoint returned no access_token"
    assert not [c for c in fake_bandwidth.calls if "/accounts/" in c.path]


def test_an_html_page_with_a_doctype_is_named_as_such(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail(
        "GET", "/subscriptions$", 200, body="<!DOCTYPE html><html><body>Sign in</body></html>"
    )
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.list_subscriptions()
    assert "has a DOCTYPE, which is refused (an HTML page?" in str(caught.value)
    assert "not XML" not in str(caught.value)


@pytest.mark.parametrize(
    ("location", "says"),
    [
        ("https://sso.example.com/login?next=/api", "a login page: API_BASE_URL is not"),
        ("https://elsewhere.example.com/api/", "check API_BASE_URL"),
    ],
)
def test_a_redirect_is_not_followed_and_says_where_it_went(
    fake_bandwidth: Any, location: str, says: str
) -> None:
    fake_bandwidth.fail("GET", "/subscriptions$", 302, body="", headers={"Location": location})
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.list_subscriptions()
    assert caught.value.status == 302
    assert f"with a redirect to {location}, which is not followed: {says}" in str(caught.value)
    assert "account 'default'" in str(caught.value)
