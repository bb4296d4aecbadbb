"""bw_notifications_send: Bandwidth's challenge flow over real sockets, and clear failures."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from pytest_django.live_server_helper import LiveServer

from django_bw_notifications.models import Notification
from tests.support import PASSWORD, USERNAME, payload

pytestmark = pytest.mark.django_db(transaction=True)


def send(*args: str) -> str:
    out = StringIO()
    call_command("bw_notifications_send", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def endpoint(live_server: LiveServer) -> str:
    return live_server.url + reverse("bw_notifications:webhook")


def test_delivers_after_the_challenge_and_reports_each_step(endpoint: str) -> None:
    output = send(endpoint, "--order-type", "portins", "--status", "COMPLETE", "--order-id", "p-9")
    assert f"1. POST {endpoint} without credentials" in output
    assert '401, challenge: Basic realm="Bandwidth notifications"' in output
    assert f"2. POST {endpoint} with credentials for {USERNAME!r}" in output
    assert "200: delivered" in output
    notification = Notification.objects.get()
    assert (notification.order_type, notification.status, notification.order_id) == (
        "portins",
        "COMPLETE",
        "p-9",
    )


def test_sends_a_file_and_event_notifications(endpoint: str, tmp_path: Path) -> None:
    first, second = tmp_path / "16.xml", tmp_path / "13.xml"
    first.write_bytes(payload("16"))
    second.write_bytes(payload("13"))
    output = send(endpoint, "--file", str(first), "--file", str(second))
    assert output.count("200: delivered") == 2
    assert output.index("16.xml:") < output.index("13.xml:")
    send(endpoint, "--event-type", "MESSAGING_LOST", "--number", "9192345678")
    assert sorted(Notification.objects.values_list("order_type", "event_type")) == [
        ("", "MESSAGING_LOST"),
        ("disconnects", ""),
        ("portins", ""),
    ]


def test_credentials_up_front(endpoint: str) -> None:
    output = send(endpoint, "--no-challenge", "--username", USERNAME, "--password", PASSWORD)
    assert "without credentials" not in output
    assert Notification.objects.count() == 1


def test_wrong_password_fails_with_a_message(endpoint: str) -> None:
    with pytest.raises(CommandError, match=r"refused the credentials \(401\)"):
        send(endpoint, "--username", USERNAME, "--password", "wrong")


def test_refused_connection(endpoint: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CommandError, match="connection refused"):
        send(f"http://127.0.0.1:{port}/bandwidth/notifications/")


def test_tls_error(live_server: Any) -> None:
    url = live_server.url.replace("http://", "https://") + "/bandwidth/notifications/"
    with pytest.raises(CommandError, match="TLS error"):
        send(url)


def test_redirect_is_reported_not_followed(live_server: LiveServer) -> None:
    # Any URL that APPEND_SLASH redirects (the endpoint's own bare URL is served by
    # EndpointWithoutSlashMiddleware in these settings).
    with pytest.raises(CommandError, match=r"redirected \(301\).*trailing slash"):
        send(live_server.url + "/admin")
    assert Notification.objects.count() == 0


def test_the_url_without_its_slash_is_received_with_the_middleware(endpoint: str) -> None:
    send(endpoint.rstrip("/"))
    assert Notification.objects.count() == 1


def test_bad_body_reason_is_shown(endpoint: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<Order/>")
    with pytest.raises(
        CommandError, match=r"answered 400 \(expected 200\): the root element is <Order>"
    ):
        send(endpoint, "--file", str(bad))


def test_missing_file_and_bad_url() -> None:
    with pytest.raises(CommandError, match="cannot read"):
        send("http://127.0.0.1:1/", "--file", "/nonexistent.xml")
    with pytest.raises(CommandError, match="not an http"):
        send("ftp://example.com/")
    with pytest.raises(CommandError, match="both --username and --password"):
        send("http://127.0.0.1:1/", "--username", "x")


@pytest.fixture
def challenge_without_header() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_401_without_challenge_is_diagnosed(challenge_without_header: str) -> None:
    with pytest.raises(CommandError, match="without a 'WWW-Authenticate: Basic' header"):
        send(challenge_without_header)


def test_an_open_endpoint_is_flagged(endpoint: str, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    output = send(endpoint, "--username", USERNAME, "--password", PASSWORD)
    assert "accepted WITHOUT credentials" in output
