"""The example project's own receivers, tested with the package's pytest fixtures."""

from __future__ import annotations

import logging
from typing import Any

import pytest


def test_every_notification_is_logged(bw_post: Any, bw_build: Any, caplog: Any) -> None:
    with caplog.at_level(logging.INFO, logger="receivers"):
        notification = bw_post(bw_build.order("csrs", "COMPLETE", order_id="csr-1"))
    assert f"received csrs csr-1 COMPLETE #{notification.pk}" in caplog.text


def test_port_in_complete_lists_the_numbers_to_activate(
    bw_post: Any, bw_build: Any, bw_signals: Any, caplog: Any
) -> None:
    with caplog.at_level(logging.INFO, logger="receivers"):
        bw_post(bw_build.order("portins", "COMPLETE", order_id="p-1", numbers=["9195551234"]))
    assert "port-in p-1 complete: activate ['+19195551234']" in caplog.text
    assert bw_signals.names == [
        "notification_received",
        "portins",
        "portins_complete",
        "order_changed",
        "number_changed",
    ]


def test_a_number_leaving_service_is_a_warning(bw_post: Any, bw_build: Any, caplog: Any) -> None:
    bw_post(bw_build.order("orders", "COMPLETE", order_id="o-1", numbers=["9195551234"]))
    with caplog.at_level(logging.INFO, logger="receivers"):
        bw_post(bw_build.order("disconnects", "COMPLETE", order_id="d-1", numbers=["9195551234"]))
    assert "number +19195551234: in_service -> disconnected (disconnects d-1)" in caplog.text


def test_failed_orders_and_lost_messaging_are_warnings(
    bw_post: Any, bw_build: Any, caplog: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="receivers"):
        bw_post(bw_build.order("orders", "FAILED", order_id="o-9"))
        bw_post(bw_build.event(numbers=["9192345678"]))
    assert "order o-9 failed: 5005: The telephone number is unavailable for ordering" in caplog.text
    assert "messaging lost on ['9192345678']" in caplog.text


@pytest.mark.django_db
def test_the_example_project_passes_its_system_checks() -> None:
    from django.core.management import call_command

    call_command("check", fail_level="WARNING")
