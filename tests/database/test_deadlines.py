"""The watchdog behind the time budget (``deadlines.severed_at``) on real sockets: a
connection still busy at its deadline has its socket shut down, so a read that would
wait forever ends at once; one released in time is left alone."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest

from django_bw_notifications.database.deadlines import severed_at

LOGGER = "django_bw_notifications.database.deadlines"


def wait_for_log(caplog: pytest.LogCaptureFixture, text: str, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in caplog.text:
            return True
        time.sleep(0.01)
    return False


def test_a_connection_busy_past_its_deadline_is_severed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ours, server = socket.socketpair()
    with ours, server, caplog.at_level(logging.ERROR, logger=LOGGER):
        ours.settimeout(5)
        started = time.monotonic()
        with severed_at(time.monotonic() + 0.1, ours):
            # What a driver does while the server says nothing: wait for its answer.
            assert ours.recv(1) == b""  # the watchdog's shutdown ends the wait
        waited = time.monotonic() - started
        assert 0.05 < waited < 4
        server.settimeout(5)
        assert server.recv(1) == b""  # the other end sees the connection close
        assert wait_for_log(caplog, "still busy past its deadline; severed it")


def test_a_connection_released_in_time_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    ours, server = socket.socketpair()
    with ours, server, caplog.at_level(logging.WARNING, logger=LOGGER):
        with severed_at(time.monotonic() + 0.05, ours):
            pass
        # A later deadline is watched meanwhile, so the watchdog has passed the first one.
        with severed_at(time.monotonic() + 0.2, ours):
            time.sleep(0.1)
        time.sleep(0.2)
        ours.sendall(b"still open")
        server.settimeout(5)
        assert server.recv(64) == b"still open"
    assert "severed" not in caplog.text


class _NoSocket:
    """A connection whose socket is already gone (the driver closed it)."""

    def fileno(self) -> Any:
        raise ValueError("I/O operation on closed file")


def test_a_connection_without_a_socket_is_reported_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        with severed_at(time.monotonic() + 0.05, _NoSocket()):
            time.sleep(0.2)
        assert wait_for_log(
            caplog, "Could not sever a database connection past its deadline: I/O operation"
        )
