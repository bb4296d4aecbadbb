"""bw_notifications_send: what it says when the endpoint is silent, hangs up, cannot be
resolved, or needs no credentials, and when the account named does not exist."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from pytest_django.live_server_helper import LiveServer

from django_bw_notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


def send(*args: str) -> str:
    out = StringIO()
    call_command("bw_notifications_send", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/bandwidth/notifications/"


def _read_request(connection: socket.socket) -> None:
    """The whole request, headers and body: closing with unread bytes would make the
    kernel reset the connection ("Connection reset by peer") instead of closing it."""
    data = b""
    connection.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return
        body += chunk


@pytest.fixture
def hanging_up_server() -> Iterator[str]:
    """Reads the request, then closes the connection without a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                _read_request(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/bandwidth/notifications/"
    stop.set()
    thread.join(5)
    listener.close()


def test_an_endpoint_that_never_answers_is_reported_with_the_timeout(silent_server: str) -> None:
    with pytest.raises(CommandError, match=r"no answer from .* within 0\.3 s"):
        send(silent_server, "--timeout", "0.3", "--no-challenge")


def test_an_endpoint_that_hangs_up_is_reported(hanging_up_server: str) -> None:
    with pytest.raises(
        CommandError, match=r"could not reach 127\.0\.0\.1:[0-9]+: Remote end closed"
    ):
        send(hanging_up_server, "--no-challenge")


def test_a_host_that_does_not_resolve_is_named() -> None:
    # .invalid never resolves (RFC 2606), so no lookup leaves the machine.
    with pytest.raises(CommandError, match=r"cannot resolve the host in http://bw-test\.invalid/"):
        send("http://bw-test.invalid/bandwidth/notifications/")


def test_without_credentials_anywhere_it_posts_once_without_them(
    live_server: LiveServer, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    url = live_server.url + reverse("bw_notifications:webhook")
    output = send(url, "--order-id", "open-1")
    assert f"1. POST {url} (no credentials configured or given)" in output
    assert "200: delivered" in output
    assert "2. POST" not in output
    assert Notification.objects.get().order_id == "open-1"


def test_an_unknown_account_is_refused_before_any_request(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {}
    with pytest.raises(CommandError, match=r"no account 'east' .*\(configured: none\)"):
        # Port 9 (discard) is never contacted: the account is looked up first.
        send("http://127.0.0.1:9/", "--account", "east")
