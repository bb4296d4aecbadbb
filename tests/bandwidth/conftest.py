"""The fake Bandwidth, configured as the default account, for the client's tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import account_settings

from .fake import FakeBandwidth


@pytest.fixture
def fake_bandwidth(settings: Any) -> Iterator[Any]:
    """A running fake Bandwidth (tests/bandwidth/fake.py) with account ``9900001``
    configured as the ``default`` account of ``BW_NOTIFICATIONS_ACCOUNTS``."""
    fake = FakeBandwidth().start()
    fake.subscriptions["9900001"] = {}
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake, "9900001"),
    }
    settings.BW_NOTIFICATIONS_API_BACKOFF = 0.01
    settings.BW_NOTIFICATIONS_API_TIMEOUT = 2
    yield fake
    fake.stop()
