"""HTTP Basic authentication of Bandwidth's deliveries.

Bandwidth first POSTs without ``Authorization`` and expects ``401`` with a
``WWW-Authenticate: Basic realm="…"`` challenge; only then does it send the credentials
(BANDWIDTH.md section 2). Its own examples also send them up front. Both work here
because every request is judged on its own header.

Credentials are compared in constant time against *every* configured pair (no early
exit), so neither the matching pair nor its position leaks through timing, and several
pairs allow rotation without downtime.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from django.utils.crypto import constant_time_compare

# Far longer than any sane credential; anything larger is refused before decoding.
_MAX_HEADER_LENGTH = 4096


def credentials_accepted(header: str | None, credentials: Sequence[tuple[str, str]]) -> bool:
    """True when ``header`` (an ``Authorization`` value) carries one of ``credentials``.

    Malformed headers (other schemes, bad base64, no colon, undecodable bytes, absurd
    length) are simply not accepted; the caller answers them all with the challenge.
    """
    supplied = _decode_basic(header)
    if supplied is None:
        return False
    username, password = supplied
    accepted = False
    for expected_username, expected_password in credentials:
        # Non-short-circuit ``&`` and no break: every pair costs the same.
        match = constant_time_compare(username, expected_username) & constant_time_compare(
            password, expected_password
        )
        accepted |= bool(match)
    return accepted


def presented_username(header: str | None) -> str | None:
    """The username of a Basic ``Authorization`` header (for logs), None when unreadable.

    The password is never returned.
    """
    decoded = _decode_basic(header)
    return decoded[0] if decoded is not None else None


def challenge(realm: str) -> str:
    """The ``WWW-Authenticate`` value for ``realm`` (quotes and backslashes escaped)."""
    quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
    return f'Basic realm="{quoted}", charset="UTF-8"'


def _decode_basic(header: str | None) -> tuple[str, str] | None:
    if not header or len(header) > _MAX_HEADER_LENGTH:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    username, colon, password = decoded.partition(":")
    if not colon:
        return None
    return username, password
