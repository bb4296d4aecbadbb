"""What the metrics say about each account's Bandwidth subscriptions.

The subscriptions live at Bandwidth, so these figures cost a Numbers API call. A scrape
must stay quick and never wait on Bandwidth, so each process lists an account's
subscriptions at most every ``BW_NOTIFICATIONS_METRICS_SUBSCRIPTIONS_EVERY`` seconds (5
minutes), with a short timeout and no retries, and serves the listing it has in between;
a listing that failed is reported as failed (``…_subscriptions_listed`` 0) and tried
again at the next interval. Expiry is counted down from when the listing was made, and
the problems are ``bandwidth.subscriptions.health()``'s (the
one rule for expiry, credentials and where a subscription points, as
``bw_notifications_subscriptions status`` reports them).

Accounts without Numbers API credentials are not listed (there is nothing to call).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..accounts import Account, AccountError, get_accounts
from ..bandwidth.resources import Subscription
from ..conf import app_settings

__all__ = ["Listing", "listings"]

logger = logging.getLogger("django_bw_notifications.ops")

#: A listing for a scrape waits at most this long for Bandwidth (or the API timeout).
LISTING_TIMEOUT = 5.0


@dataclass(frozen=True)
class Listing:
    """One account's subscriptions as last listed by this process."""

    account: Account
    #: When the listing was made (``time.monotonic()``).
    listed_at: float
    #: The subscriptions, or None when the listing failed.
    subscriptions: tuple[Subscription, ...] | None
    #: Why it failed ("" when it did not).
    error: str = ""

    def seconds_left(self, subscription: Subscription, now: float) -> float | None:
        """The subscription's expiry counted down from the listing to ``now``."""
        if subscription.expiry is None:
            return None
        return max(subscription.expiry - (now - self.listed_at), 0.0)


_lock = threading.Lock()
_listings: dict[tuple[str, str], Listing] = {}


def listings() -> Iterator[Listing]:
    """A listing per account with Numbers API credentials, at most
    ``METRICS_SUBSCRIPTIONS_EVERY`` seconds old (none when that setting is 0)."""
    every = app_settings.METRICS_SUBSCRIPTIONS_EVERY
    if every <= 0:
        return
    try:
        accounts = get_accounts()
    except AccountError:
        return  # a malformed account: the system checks say so
    for account in accounts:
        try:
            account.require_api()
        except AccountError:
            continue
        # Keyed by the base URL too: an account repointed (in tests, or a sandbox)
        # is listed afresh.
        key = (account.name, account.api_base_url)
        with _lock:
            cached = _listings.get(key)
            if cached is not None and time.monotonic() - cached.listed_at < every:
                yield cached
                continue
        listing = _list(account)
        with _lock:
            _listings[key] = listing
        yield listing


def forget() -> None:
    """Drop every listing (for tests, and after the accounts change)."""
    with _lock:
        _listings.clear()


def _list(account: Account) -> Listing:
    from ..bandwidth.client import BandwidthAPIError, NumbersClient

    started = time.monotonic()
    try:
        timeout = min(app_settings.API_TIMEOUT, LISTING_TIMEOUT)
        with NumbersClient(account, timeout=timeout, max_retries=0) as client:
            return Listing(account, started, tuple(client.list_subscriptions()))
    except (BandwidthAPIError, OSError) as error:
        logger.warning("Listing the subscriptions of account %r failed: %s", account.name, error)
        return Listing(account, started, None, str(error))
