"""The Numbers API client against the fake Bandwidth, over real sockets."""

from __future__ import annotations

import time
from typing import Any

import pytest

from django_bw_notifications.accounts import get_account
from django_bw_notifications.bandwidth.client import (
    BandwidthAPIError,
    NumbersClient,
    SubscriptionSpec,
)
from django_bw_notifications.parsing import parse_xml
from tests.support import account_settings

ACCOUNT = "9900001"
SPEC = SubscriptionSpec(
    order_type="portins",
    url="https://example.com/bandwidth/",
    username="bandwidth",
    password="s3cret-callback-password",
    expiry=3122064000,
)


def client(**kwargs: Any) -> NumbersClient:
    return NumbersClient(get_account("default"), **kwargs)


def test_create_sends_credentials_expiry_and_format_and_returns_the_location_id(
    fake_bandwidth: Any,
) -> None:
    with client() as api:
        subscription_id = api.create_subscription(SPEC)
    stored = fake_bandwidth.subscriptions[ACCOUNT][subscription_id]
    assert (stored.order_type, stored.url) == ("portins", "https://example.com/bandwidth/")
    assert (stored.username, stored.password) == ("bandwidth", "s3cret-callback-password")
    assert stored.number_format == "E164"
    assert stored.expires_at > time.time() + 3_000_000_000
    body = parse_xml(fake_bandwidth.changes()[0].body)
    assert body.findtext("CallbackSubscription/Expiry") == "3122064000"
    assert fake_bandwidth.calls[0].authorization.startswith("Basic ")


def test_list_and_get_report_what_bandwidth_says_without_the_password(fake_bandwidth: Any) -> None:
    fake_bandwidth.add_subscription(
        ACCOUNT,
        order_type="orders",
        url="https://a/",
        username="u",
        password="p",
        number_format="E164",
        status="200 OK",
        expiry=5000,
    )
    bare = fake_bandwidth.add_subscription(ACCOUNT, event_type="MESSAGING_LOST", url="https://b/")
    with client() as api:
        listed = {s.id: s for s in api.list_subscriptions()}
        single = api.get_subscription(bare.id)
    assert len(listed) == 2
    with_credentials = next(s for s in listed.values() if s.order_type == "orders")
    assert with_credentials.has_credentials
    assert with_credentials.username == "u"
    assert 4990 <= (with_credentials.expiry or 0) <= 5000
    assert with_credentials.last_delivery_ok is True
    assert with_credentials.kind == "order:orders"
    assert single.kind == "event:MESSAGING_LOST"
    assert not single.has_credentials
    assert single.last_delivery_ok is None
    assert not hasattr(with_credentials, "password")  # Bandwidth never returns it


def test_duplicate_is_a_409_with_bandwidths_code(fake_bandwidth: Any) -> None:
    with client() as api:
        api.create_subscription(SPEC)
        with pytest.raises(BandwidthAPIError) as caught:
            api.create_subscription(SPEC)
    assert caught.value.status == 409
    assert caught.value.code == "12123"
    assert "already exists" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_400_and_404_carry_code_and_description(fake_bandwidth: Any) -> None:
    with client() as api:
        with pytest.raises(BandwidthAPIError) as bad:
            api.create_subscription(
                SubscriptionSpec(url="", username="u", password="p", expiry=1, order_type="orders")
            )
        with pytest.raises(BandwidthAPIError) as missing:
            api.get_subscription("no-such-id")
    assert bad.value.status == 400
    assert "12122" in str(bad.value)
    assert "URL is required" in bad.value.description
    assert missing.value.status == 404
    assert missing.value.code == "12125"
    assert str(missing.value).startswith("Bandwidth answered 404 to GET /subscriptions/no-such-id")


def test_wrong_api_credentials_say_so_and_never_show_the_password(
    fake_bandwidth: Any, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT, API_PASSWORD="wrong-pass-123")
    }
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.list_subscriptions()
    assert caught.value.status == 401
    assert "check the account's API credentials" in str(caught.value)
    assert "wrong-pass-123" not in str(caught.value) + repr(api) + repr(get_account("default"))
    assert len(fake_bandwidth.calls) == 1  # a 401 is not retried


def test_429_then_success_honours_retry_after(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail("GET", "/subscriptions$", 429, times=2, headers={"Retry-After": "0"})
    with client() as api:
        assert api.list_subscriptions() == []
    assert len(fake_bandwidth.calls) == 3


def test_503_is_retried_up_to_the_limit_then_reported(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail("GET", "/subscriptions$", 503, times=5)
    with client(max_retries=2) as api, pytest.raises(BandwidthAPIError) as caught:
        api.list_subscriptions()
    assert caught.value.status == 503
    assert len(fake_bandwidth.calls) == 3


def test_a_post_is_not_repeated_after_a_500_it_may_have_carried_out(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail("POST", "/subscriptions$", 500)
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.create_subscription(SPEC)
    assert caught.value.status == 500
    assert len(fake_bandwidth.changes()) == 1


def test_a_post_is_retried_after_a_503(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail("POST", "/subscriptions$", 503)
    with client() as api:
        api.create_subscription(SPEC)
    assert len(fake_bandwidth.changes()) == 2
    assert len(fake_bandwidth.subscriptions[ACCOUNT]) == 1


def test_slow_answers_time_out_and_are_retried_for_reads(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail("GET", "/subscriptions$", 0, delay=0.6)
    with client(timeout=0.3) as api:
        assert api.list_subscriptions() == []  # the second try is answered at once
    assert len(fake_bandwidth.calls) == 2


def test_a_timeout_that_persists_is_a_clear_error(fake_bandwidth: Any) -> None:
    fake_bandwidth.fail("GET", "/subscriptions$", 0, delay=0.5, times=3)
    with client(timeout=0.2, max_retries=1) as api, pytest.raises(BandwidthAPIError) as caught:
        api.list_subscriptions()
    assert "could not reach Bandwidth for GET /subscriptions" in str(caught.value)
    assert caught.value.status is None


def test_unreachable_bandwidth_is_a_clear_error(settings: Any, fake_bandwidth: Any) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT, API_BASE_URL="http://127.0.0.1:9/api")
    }
    with client(max_retries=1) as api, pytest.raises(BandwidthAPIError) as caught:
        api.list_subscriptions()
    assert "ConnectError" in str(caught.value)
    assert "2 attempt(s)" in str(caught.value)


def oauth(fake: Any, settings: Any, **overrides: Any) -> None:
    entry = account_settings(fake, ACCOUNT)
    del entry["API_USERNAME"], entry["API_PASSWORD"]
    entry.update(CLIENT_ID=fake.oauth_client[0], CLIENT_SECRET=fake.oauth_client[1])
    entry.update(overrides)
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": entry}


def test_oauth_token_is_fetched_once_and_sent_as_bearer(fake_bandwidth: Any, settings: Any) -> None:
    oauth(fake_bandwidth, settings)
    with client() as api:
        api.list_subscriptions()
        api.list_subscriptions()
    assert fake_bandwidth.token_requests == 1
    api_calls = [c for c in fake_bandwidth.calls if "/accounts/" in c.path]
    assert all(c.authorization.startswith("Bearer ") for c in api_calls)
    assert len(api_calls) == 2


def test_a_revoked_token_is_replaced_once(fake_bandwidth: Any, settings: Any) -> None:
    oauth(fake_bandwidth, settings)
    with client() as api:
        api.list_subscriptions()
        fake_bandwidth.tokens.clear()  # revoked before it expired
        api.list_subscriptions()
    assert fake_bandwidth.token_requests == 2


def test_a_wrong_client_secret_is_a_clear_error(fake_bandwidth: Any, settings: Any) -> None:
    oauth(fake_bandwidth, settings, CLIENT_SECRET="not-the-secret")
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.list_subscriptions()
    assert caught.value.status == 401
    assert caught.value.code == "invalid_client"
    assert "CLIENT_ID and CLIENT_SECRET" in str(caught.value)
    assert "not-the-secret" not in str(caught.value)


ORDER_XML = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<OrderResponse><CompletedQuantity>2</CompletedQuantity>
<LastModifiedDate>2026-11-20T10:00:00.000Z</LastModifiedDate>
<Order><CustomerOrderId>cust-7</CustomerOrderId><id>o-1</id></Order>
<OrderStatus>COMPLETE</OrderStatus>
<CompletedNumbers><TelephoneNumber><FullNumber>9195551234</FullNumber></TelephoneNumber>
<TelephoneNumber><FullNumber>9195551235</FullNumber></TelephoneNumber></CompletedNumbers>
</OrderResponse>"""

PORTIN_XML = """<LnpOrderResponse><OrderId>p-1</OrderId>
<Status><Code>200</Code><Description>Order request received.</Description></Status>
<ProcessingStatus>FOC</ProcessingStatus><CustomerOrderId>port-9</CustomerOrderId>
<LastModifiedDate>2026-11-21T08:00:00Z</LastModifiedDate>
<ListOfPhoneNumbers><PhoneNumber>9195550001</PhoneNumber></ListOfPhoneNumbers>
</LnpOrderResponse>"""

DISCONNECT_XML = """<DisconnectTelephoneNumberOrderResponse><ErrorList><Error><Code>5006</Code>
<Description>not associated with your account</Description></Error></ErrorList>
<orderRequest><CustomerOrderId>d-c</CustomerOrderId><id>d-1</id>
<DisconnectTelephoneNumberOrderType><TelephoneNumberList>
<TelephoneNumber>9192755378</TelephoneNumber></TelephoneNumberList>
</DisconnectTelephoneNumberOrderType></orderRequest><OrderStatus>FAILED</OrderStatus>
</DisconnectTelephoneNumberOrderResponse>"""


def test_get_order_reads_each_supported_order_type(fake_bandwidth: Any) -> None:
    fake_bandwidth.set_order(ACCOUNT, "orders", "o-1", ORDER_XML)
    fake_bandwidth.set_order(ACCOUNT, "portins", "p-1", PORTIN_XML)
    fake_bandwidth.set_order(ACCOUNT, "disconnects", "d-1", DISCONNECT_XML)
    with client() as api:
        order = api.get_order("orders", "o-1")
        portin = api.get_order("PortIns", "p-1")
        disconnect = api.get_order("disconnects", "d-1")
    assert (order.status, order.customer_order_id) == ("COMPLETE", "cust-7")
    assert order.telephone_numbers == ("9195551234", "9195551235")
    assert order.last_modified_date == "2026-11-20T10:00:00.000Z"
    assert order.raw == ORDER_XML
    assert (portin.status, portin.customer_order_id) == ("FOC", "port-9")
    assert portin.telephone_numbers == ("9195550001",)
    assert (disconnect.status, disconnect.order_id) == ("FAILED", "d-1")
    # FAILED: nothing was disconnected (the number was only asked for), and why.
    assert disconnect.telephone_numbers == ()
    assert disconnect.message == "5006: not associated with your account"


def test_get_order_of_an_unsupported_type_says_so_without_calling(fake_bandwidth: Any) -> None:
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.get_order("lsrorders", "x")
    assert "not supported yet" in str(caught.value)
    assert fake_bandwidth.calls == []


def test_ids_are_escaped_into_one_path_segment(fake_bandwidth: Any) -> None:
    with client() as api, pytest.raises(BandwidthAPIError):
        api.get_order("orders", "../subscriptions")
    assert fake_bandwidth.calls[0].path.endswith("/orders/..%2Fsubscriptions")


def test_a_dtd_in_an_answer_is_refused_not_expanded(fake_bandwidth: Any) -> None:
    fake_bandwidth.set_order(
        ACCOUNT,
        "orders",
        "bomb",
        '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">]><OrderResponse><OrderStatus>&a;</OrderStatus></OrderResponse>',
    )
    with client() as api, pytest.raises(BandwidthAPIError) as caught:
        api.get_order("orders", "bomb")
    assert "has a DOCTYPE, which is refused" in str(caught.value)


def test_the_spec_repr_hides_the_password() -> None:
    assert "s3cret" not in repr(SPEC)
