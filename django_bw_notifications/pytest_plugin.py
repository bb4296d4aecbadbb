"""pytest fixtures over :mod:`django_bw_notifications.testing`.

Registered through the ``pytest11`` entry point, and opt-in: nothing runs unless a test
asks for one of the ``bw_*`` fixtures (disable entirely with ``-p no:bw_notifications``).
Django is imported only when a fixture is used, so the plugin costs nothing in projects
that do not use it. The fixtures need pytest-django's database access (they request
``db``).

- ``bw_post(body, **kwargs)``: :func:`~django_bw_notifications.testing.post_notification`.
- ``bw_signals``: a :class:`~django_bw_notifications.testing.SignalCapture` recording
  every signal fired during the test.
- ``bw_build``: the builders, as ``bw_build.order(...)``, ``bw_build.event(...)`` and
  ``bw_build.numbers(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .models import Notification
    from .testing import SignalCapture


@pytest.fixture
def bw_post(db: None) -> Callable[..., Notification]:
    """Post a notification body like Bandwidth; returns the stored Notification."""
    from .testing import post_notification

    return post_notification


@pytest.fixture
def bw_signals(db: None) -> Iterator[SignalCapture]:
    """Every signal of this package fired during the test, in order."""
    from .testing import capture_signals

    with capture_signals() as capture:
        yield capture


@pytest.fixture
def bw_build() -> Any:
    """The XML builders: ``bw_build.order()``, ``bw_build.event()``, ``bw_build.numbers()``."""
    from .testing import build_event_notification, build_order_notification, generate_numbers

    return SimpleNamespace(
        order=build_order_notification, event=build_event_notification, numbers=generate_numbers
    )
