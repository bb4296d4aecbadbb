"""``manage.py bw_notifications_send URL``: deliver a notification the way Bandwidth does.

First without credentials, expecting ``401`` with a ``WWW-Authenticate`` challenge, then
again with them; each step is reported. For checking a local runserver or a deployed
endpoint end to end. Exits non-zero with a clear message on any failure.
"""

from __future__ import annotations

import base64
import socket
import ssl
import urllib.error
import urllib.request
from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

from ...accounts import account_names, endpoint
from ...bandwidth.bodies import build_event_notification, build_order_notification
from ...routes import endpoint_of_url


@dataclass(frozen=True)
class _Answer:
    status: int
    challenge: str
    text: str
    location: str


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # Bandwidth does not follow redirects; a redirected POST loses its body.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Command(BaseCommand):
    help = (
        "POST a Bandwidth notification to URL like Bandwidth does: first without "
        "credentials, then with them after the 401 challenge. Reports each step."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "url", help="the endpoint, e.g. https://example.com/bandwidth/notifications/"
        )
        parser.add_argument(
            "--file",
            type=Path,
            action="append",
            dest="files",
            help="send this XML file instead of a built one (repeatable: sent in turn)",
        )
        parser.add_argument("--order-type", default="orders")
        parser.add_argument("--status", default="COMPLETE")
        parser.add_argument("--order-id", help="default: a random UUID")
        parser.add_argument("--customer-order-id", default="")
        parser.add_argument(
            "--event-type", help="send an event notification (e.g. MESSAGING_LOST) instead"
        )
        parser.add_argument(
            "--number", action="append", dest="numbers", help="a telephone number (repeatable)"
        )
        parser.add_argument(
            "--account",
            help="use the credentials of this BW_NOTIFICATIONS_ACCOUNTS entry's endpoint "
            "(default: those of the endpoint the URL's path reaches in this project, else "
            "the plain endpoint's)",
        )
        parser.add_argument("--username", help="default: the first pair the endpoint accepts")
        parser.add_argument("--password", help="default: the first pair the endpoint accepts")
        parser.add_argument(
            "--no-challenge",
            action="store_true",
            help="send the credentials on the first request (Bandwidth's other documented form)",
        )
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")

    def handle(self, *args: Any, **options: Any) -> None:
        url: str = options["url"]
        if urlsplit(url).scheme not in {"http", "https"}:
            raise CommandError(f"{url!r} is not an http:// or https:// URL")
        credentials = self._credentials(options)
        if not options["files"]:
            self._deliver(url, self._built_body(options), credentials, options)
            return
        for path in options["files"]:
            self.stdout.write(f"{path.name}:")
            self._deliver(url, self._read(path), credentials, options)

    def _deliver(
        self, url: str, body: bytes, credentials: tuple[str, str] | None, options: dict[str, Any]
    ) -> None:
        timeout: float = options["timeout"]
        if credentials is None:
            self.stdout.write(f"1. POST {url} (no credentials configured or given)")
            self._expect_delivered(self._post(url, body, None, timeout))
            return

        authorization = "Basic " + base64.b64encode(
            f"{credentials[0]}:{credentials[1]}".encode()
        ).decode("ascii")
        step = 1
        if not options["no_challenge"]:
            self.stdout.write(f"{step}. POST {url} without credentials, as Bandwidth does first")
            first = self._post(url, body, None, timeout)
            if first.status == 200:
                self.stdout.write(
                    self.style.WARNING(
                        "   200: accepted WITHOUT credentials; anyone who finds this URL can "
                        "post notifications. Set BW_NOTIFICATIONS_BASIC_AUTH on the server."
                    )
                )
                return
            if first.status != 401:
                raise CommandError(self._describe(first, "expected 401 with a challenge"))
            if not first.challenge.lower().startswith("basic"):
                raise CommandError(
                    "the endpoint answered 401 without a 'WWW-Authenticate: Basic' header; "
                    "Bandwidth would never send the credentials, and every notification "
                    "would be lost"
                )
            self.stdout.write(f"   401, challenge: {first.challenge}")
            step += 1
        self.stdout.write(f"{step}. POST {url} with credentials for {credentials[0]!r}")
        self._expect_delivered(self._post(url, body, authorization, timeout))

    def _expect_delivered(self, answer: _Answer) -> None:
        if answer.status == 200:
            self.stdout.write(self.style.SUCCESS("   200: delivered"))
            return
        if answer.status == 401:
            raise CommandError("the endpoint refused the credentials (401)")
        raise CommandError(self._describe(answer, "expected 200"))

    def _describe(self, answer: _Answer, expected: str) -> str:
        if 300 <= answer.status < 400:
            return (
                f"the endpoint redirected ({answer.status}) to {answer.location or '?'}; "
                "Bandwidth does not follow redirects: use the final URL (trailing slash?)"
            )
        reason = answer.text.strip().splitlines()[0][:300] if answer.text.strip() else ""
        return f"the endpoint answered {answer.status} ({expected})" + (
            f": {reason}" if reason else ""
        )

    def _read(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as err:
            raise CommandError(f"cannot read {path}: {err.strerror}") from None

    def _built_body(self, options: dict[str, Any]) -> bytes:
        if options["event_type"]:
            return build_event_notification(options["event_type"], numbers=options["numbers"])
        return build_order_notification(
            options["order_type"],
            options["status"],
            order_id=options["order_id"],
            customer_order_id=options["customer_order_id"],
            numbers=options["numbers"],
        )

    def _credentials(self, options: dict[str, Any]) -> tuple[str, str] | None:
        username, password = options["username"], options["password"]
        if (username is None) != (password is None):
            raise CommandError("give both --username and --password, or neither")
        if username is not None:
            return username, password
        # The credentials of the endpoint, by the rule accounts owns (an account's own
        # pairs, else the global ones): --account's, else the one the URL reaches in
        # this project (an account's URL wants that account's pairs), else the plain one.
        if options["account"] is None:
            target = endpoint_of_url(options["url"]) or endpoint(None)
        else:
            target = endpoint(options["account"])
        if target is None:
            raise CommandError(
                f"no account {options['account']!r} in BW_NOTIFICATIONS_ACCOUNTS "
                f"(configured: {', '.join(account_names()) or 'none'})"
            )
        return target.credentials[0] if target.credentials else None

    def _post(self, url: str, body: bytes, authorization: str | None, timeout: float) -> _Answer:
        headers = {"Content-Type": "application/xml; charset=utf-8"}
        if authorization:
            headers["Authorization"] = authorization
        # The scheme is checked in handle(): only http and https reach here.
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        opener = urllib.request.build_opener(_NoRedirects)
        try:
            with opener.open(request, timeout=timeout) as response:
                return _Answer(
                    response.status, "", response.read(2000).decode("utf-8", "replace"), ""
                )
        except urllib.error.HTTPError as err:
            return _Answer(
                err.code,
                err.headers.get("WWW-Authenticate", ""),
                err.read(2000).decode("utf-8", "replace"),
                err.headers.get("Location", ""),
            )
        except urllib.error.URLError as err:
            raise CommandError(self._network_error(url, err.reason, timeout)) from None
        except TimeoutError:
            raise CommandError(f"no answer from {url} within {timeout:g} s") from None
        except ssl.SSLError as err:
            raise CommandError(f"TLS error talking to {url}: {err.reason or err}") from None
        except OSError as err:
            raise CommandError(self._network_error(url, err, timeout)) from None

    def _network_error(self, url: str, reason: object, timeout: float) -> str:
        where = urlsplit(url).netloc
        if isinstance(reason, ssl.SSLError):
            return f"TLS error talking to {where}: {reason.reason or reason}"
        if isinstance(reason, ConnectionRefusedError):
            return f"could not connect to {where}: connection refused (is the server running?)"
        if isinstance(reason, TimeoutError):
            return f"no answer from {where} within {timeout:g} s"
        if isinstance(reason, socket.gaierror):
            return f"cannot resolve the host in {url}: {reason.strerror}"
        return f"could not reach {where}: {reason}"
