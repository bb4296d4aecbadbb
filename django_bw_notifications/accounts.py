"""The Bandwidth accounts this project talks to, read from ``BW_NOTIFICATIONS_ACCOUNTS``.

A notification body does not say which account it came from, so each account gets its
own endpoint (``<include>/<name>/``, its own credentials) and every notification
records the account it arrived on. The plain endpoint (``<include>/``) belongs to the
account named ``default``. The same entries tell the Numbers API client and the
``bw_notifications_subscriptions`` / ``bw_notifications_reconcile`` commands what to do.

Problems with the setting's shape are reported by system check ``E012``; the functions
here raise :class:`AccountError` with the same message when asked for something unusable.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .catalog import ORDER_STATUSES
from .conf import PREFIX, app_settings
from .parsing import ParsedNotification

__all__ = [
    "DEFAULT_ACCOUNT",
    "Account",
    "AccountError",
    "Endpoint",
    "account_names",
    "endpoint",
    "endpoints",
    "fingerprint",
    "get_account",
    "get_accounts",
    "is_credential_list",
    "news_key",
    "recorded_names",
]

#: The account the plain endpoint (``<include>/``) belongs to.
DEFAULT_ACCOUNT = "default"

#: Bandwidth's documented Numbers API base (accounts live under it).
DEFAULT_API_BASE_URL = "https://dashboard.bandwidth.com/api"
#: Bandwidth's OAuth2 token endpoint (client credentials grant).
DEFAULT_TOKEN_URL = "https://api.bandwidth.com/api/v1/oauth2/token"  # noqa: S105 - a URL
#: About 99 years, what integrations in the wild set: without Expiry Bandwidth uses one day.
DEFAULT_EXPIRY = 3122064000

#: Order types ``ensure`` subscribes to when an account does not list its own: every
#: order type in Bandwidth's documented table (BANDWIDTH.md section 4).
DEFAULT_ORDER_TYPES: tuple[str, ...] = (
    "portins",
    "orders",
    "portouts",
    "disconnects",
    "dldas",
    "lsrorders",
    "e911s",
    "tnoptions",
    "externalTns",
    "lidb",
    "bulkPortins",
    "importtnorders",
    "removeImportedTnOrders",
    "importVoiceTnOrders",
    "removeImportedVoiceTnOrders",
    "csrs",
    "emergencyNotificationGroup",
    "emergencyEndpointGroup",
)

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEYS = frozenset(
    {
        "ACCOUNT_ID",
        "API_BASE_URL",
        "API_USERNAME",
        "API_PASSWORD",
        "CLIENT_ID",
        "CLIENT_SECRET",
        "TOKEN_URL",
        "CALLBACK_URL",
        "BASIC_AUTH",
        "ORDER_TYPES",
        "EVENT_TYPES",
        "NUMBER_FORMAT",
        "EXPIRY",
    }
)


class AccountError(Exception):
    """An account is unknown or not configured for what was asked; ``str()`` says why."""


@dataclass(frozen=True)
class Account:
    """One entry of ``BW_NOTIFICATIONS_ACCOUNTS``, defaults filled in.

    Secrets are excluded from ``repr()``, so an account can be logged or printed.
    """

    name: str
    account_id: str = ""
    api_base_url: str = DEFAULT_API_BASE_URL
    api_username: str = field(default="", repr=False)
    api_password: str = field(default="", repr=False)
    client_id: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    token_url: str = DEFAULT_TOKEN_URL
    #: The public URL Bandwidth should POST this account's notifications to.
    callback_url: str = ""
    #: Accepted on this account's endpoint, and given to Bandwidth by ``ensure``
    #: (the first pair).
    basic_auth: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    order_types: tuple[str, ...] = DEFAULT_ORDER_TYPES
    event_types: tuple[str, ...] = ()
    number_format: str = "E164"
    expiry: int = DEFAULT_EXPIRY

    @property
    def uses_oauth(self) -> bool:
        """True when the API is called with an OAuth2 bearer token (client credentials)."""
        return bool(self.client_id)

    def require_api(self) -> None:
        """Raise :class:`AccountError` unless the Numbers API can be called for this account."""
        where = f"{PREFIX}ACCOUNTS[{self.name!r}]"
        if not self.account_id:
            raise AccountError(f"{where} has no ACCOUNT_ID")
        if not (self.api_username and self.api_password) and not (
            self.client_id and self.client_secret
        ):
            raise AccountError(
                f"{where} has no API credentials: set API_USERNAME and API_PASSWORD, "
                "or CLIENT_ID and CLIENT_SECRET"
            )

    def require_callback(self) -> None:
        """Raise :class:`AccountError` unless subscriptions can be pointed at us."""
        where = f"{PREFIX}ACCOUNTS[{self.name!r}]"
        if not self.callback_url:
            raise AccountError(
                f"{where} has no CALLBACK_URL: the public https URL of this account's "
                "endpoint, which Bandwidth will POST to"
            )
        if not self.basic_auth:
            raise AccountError(
                f"{where} has no callback credentials (its BASIC_AUTH, or "
                f"{PREFIX}BASIC_AUTH): a subscription without them lets anyone post"
            )


def account_names() -> tuple[str, ...]:
    """The configured account names, in the setting's order."""
    return tuple(_raw_accounts())


def get_accounts() -> tuple[Account, ...]:
    """Every configured account."""
    return tuple(get_account(name) for name in account_names())


def get_account(name: str) -> Account:
    """The account called ``name``; raises :class:`AccountError` if there is none."""
    accounts = _raw_accounts()
    if name not in accounts:
        known = ", ".join(accounts) or "none"
        raise AccountError(f"no account {name!r} in {PREFIX}ACCOUNTS (configured: {known})")
    problems = account_problems(name, accounts[name])
    if problems:
        raise AccountError(problems[0])
    entry = accounts[name]
    return Account(
        name=name,
        account_id=str(entry.get("ACCOUNT_ID", "")),
        api_base_url=str(entry.get("API_BASE_URL", DEFAULT_API_BASE_URL)).rstrip("/"),
        api_username=str(entry.get("API_USERNAME", "")),
        api_password=str(entry.get("API_PASSWORD", "")),
        client_id=str(entry.get("CLIENT_ID", "")),
        client_secret=str(entry.get("CLIENT_SECRET", "")),
        token_url=str(entry.get("TOKEN_URL", DEFAULT_TOKEN_URL)),
        callback_url=str(entry.get("CALLBACK_URL", "")),
        basic_auth=_basic_auth(entry),
        order_types=tuple(entry.get("ORDER_TYPES", DEFAULT_ORDER_TYPES)),
        event_types=tuple(entry.get("EVENT_TYPES", ())),
        number_format=str(entry.get("NUMBER_FORMAT", "E164")),
        expiry=int(entry.get("EXPIRY", DEFAULT_EXPIRY)),
    )


@dataclass(frozen=True)
class Endpoint:
    """One notification endpoint: where it is, who may post to it, what it records."""

    #: Recorded on each notification received here ("" when no accounts are configured).
    account: str
    #: The ``(username, password)`` pairs accepted; empty: no authentication.
    credentials: tuple[tuple[str, str], ...] = field(repr=False)
    #: Its URL name, with ``url_kwargs``, for ``reverse()``.
    url_name: str = "bw_notifications:webhook"
    url_kwargs: Mapping[str, str] = field(default_factory=dict)
    #: The setting its credentials come from (for messages).
    credentials_setting: str = f"{PREFIX}BASIC_AUTH"

    @property
    def label(self) -> str:
        """How messages name it: ``the plain endpoint`` or ``account 'east''s endpoint``."""
        if "account" in self.url_kwargs:
            return f"the endpoint of account {self.url_kwargs['account']!r}"
        if self.account:
            return f"the plain endpoint (account {self.account!r})"
        return "the plain endpoint"


def recorded_names(name: str) -> tuple[str, ...]:
    """The values of ``account`` that rows recorded for account ``name`` carry: the
    ``default`` account's include ``""`` (stored by the plain endpoint before accounts
    were configured). Reconcile and the inventory's drift check both ask here."""
    return (name, "") if name == DEFAULT_ACCOUNT else (name,)


def account_of(recorded: str) -> str:
    """The account a row whose ``account`` is ``recorded`` belongs to: the inverse of
    :func:`recorded_names` (``""`` is ``default``'s once that account is configured).
    Health and the metrics name accounts so."""
    if recorded == "" and DEFAULT_ACCOUNT in _raw_accounts():
        return DEFAULT_ACCOUNT
    return recorded


def endpoint(name: str | None) -> Endpoint | None:
    """The endpoint of account ``name``; None if there is no such account.

    ``None`` is the plain endpoint, the ``default`` account's: its ``BASIC_AUTH`` when
    it sets one, else ``BW_NOTIFICATIONS_BASIC_AUTH``; without accounts it records none.
    The one place this rule lives: the view, the checks, the testing helpers and the
    send command all ask here.
    """
    accounts = _raw_accounts()
    if name is None:
        account = DEFAULT_ACCOUNT if DEFAULT_ACCOUNT in accounts else ""
        url_name, url_kwargs = "bw_notifications:webhook", {}
    elif name in accounts:
        account = name
        url_name, url_kwargs = "bw_notifications:account_webhook", {"account": name}
    else:
        return None
    entry = accounts.get(account, {})
    entry = entry if isinstance(entry, Mapping) else {}
    own = "BASIC_AUTH" in entry
    return Endpoint(
        account,
        _basic_auth(entry),
        url_name,
        url_kwargs,
        f"{PREFIX}ACCOUNTS[{account!r}]['BASIC_AUTH']" if own else f"{PREFIX}BASIC_AUTH",
    )


def endpoints() -> tuple[Endpoint, ...]:
    """Every endpoint: the plain one, then one per configured account."""
    found = [endpoint(None)]
    found += [endpoint(name) for name in _raw_accounts() if isinstance(name, str)]
    return tuple(e for e in found if e is not None)


def account_problems(name: object, entry: object) -> list[str]:
    """What is wrong with one entry of the setting, as messages (system check E012)."""
    where = f"{PREFIX}ACCOUNTS[{name!r}]"
    if not isinstance(name, str) or not _NAME.match(name):
        return [f"{where}: account names are 1-64 letters, digits, '_' or '-' (used in URLs)"]
    if not isinstance(entry, Mapping):
        return [f"{where} must be a dict of settings such as ACCOUNT_ID"]
    problems = [
        f"{where} has an unknown key {key!r} (known: {', '.join(sorted(_KEYS))})"
        for key in entry
        if key not in _KEYS
    ]
    for key in (
        "ACCOUNT_ID",
        "API_BASE_URL",
        "API_USERNAME",
        "API_PASSWORD",
        "CLIENT_ID",
        "CLIENT_SECRET",
        "TOKEN_URL",
        "CALLBACK_URL",
    ):
        if key in entry and not isinstance(entry[key], str):
            problems.append(f"{where}[{key!r}] must be a string")
    for key in ("API_BASE_URL", "TOKEN_URL", "CALLBACK_URL"):
        value = entry.get(key)
        if isinstance(value, str) and value and not value.startswith(("https://", "http://")):
            problems.append(f"{where}[{key!r}] must be an absolute http(s) URL, not {value!r}")
    if bool(entry.get("CLIENT_ID")) != bool(entry.get("CLIENT_SECRET")):
        problems.append(f"{where}: set both CLIENT_ID and CLIENT_SECRET, or neither")
    if bool(entry.get("API_USERNAME")) != bool(entry.get("API_PASSWORD")):
        problems.append(f"{where}: set both API_USERNAME and API_PASSWORD, or neither")
    if not is_credential_list(entry.get("BASIC_AUTH", ())):
        problems.append(
            f"{where}['BASIC_AUTH'] must be a list of (username, password) pairs of "
            "non-empty strings"
        )
    if (entry.get("API_USERNAME") or entry.get("CLIENT_ID")) and not entry.get("ACCOUNT_ID"):
        problems.append(
            f"{where} has Numbers API credentials but no ACCOUNT_ID: the client cannot "
            "address the account (subscriptions, reconcile, the inventory's drift check)"
        )
    for key in ("ORDER_TYPES", "EVENT_TYPES"):
        value = entry.get(key, ())
        if isinstance(value, str) or not all(isinstance(v, str) and v for v in _iter(value)):
            problems.append(f"{where}[{key!r}] must be a list of names, not {value!r}")
    unknown = [
        t
        for t in _iter(entry.get("ORDER_TYPES", ()))
        if isinstance(t, str) and t not in ORDER_STATUSES
    ]
    if unknown:
        problems.append(
            f"{where}['ORDER_TYPES'] has order types Bandwidth does not document: "
            f"{', '.join(map(str, unknown))} (spelling is case-sensitive on Bandwidth's side)"
        )
    if entry.get("NUMBER_FORMAT", "E164") not in ("E164", "LEGACY"):
        problems.append(f"{where}['NUMBER_FORMAT'] must be 'E164' or 'LEGACY'")
    expiry = entry.get("EXPIRY", DEFAULT_EXPIRY)
    if not isinstance(expiry, int) or isinstance(expiry, bool) or expiry < 3600:
        problems.append(f"{where}['EXPIRY'] must be whole seconds, at least 3600")
    return problems


def is_credential_list(value: object) -> bool:
    """True for a list or tuple of ``(username, password)`` pairs of non-empty strings."""
    return isinstance(value, (list, tuple)) and all(
        isinstance(item, Sequence)
        and not isinstance(item, str)
        and len(item) == 2
        and all(isinstance(part, str) and part for part in item)
        for item in value
    )


def _basic_auth(entry: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    # An account's own pairs when it sets BASIC_AUTH (even empty), else the global ones.
    # (The global one unset or None reads as ().)
    pairs = entry.get("BASIC_AUTH", app_settings.BASIC_AUTH)
    if isinstance(pairs, (list, tuple)) and not pairs:
        return ()  # no authentication, as configured (checks W001/E009 say so)
    if not is_credential_list(pairs):
        # Malformed (checks E001/E012; gunicorn runs no checks): an empty password from
        # an unset environment variable, None, a bare string. Fail closed, never open.
        return _NOBODY
    return tuple((str(username), str(password)) for username, password in pairs)


#: The credentials of an endpoint whose setting is malformed: nobody can present them.
_NOBODY = (("\x00unusable", secrets.token_urlsafe(32)),)


def _raw_accounts() -> Mapping[Any, Any]:
    value = getattr(app_settings, "ACCOUNTS", {})
    return value if isinstance(value, Mapping) else {}


def _iter(value: object) -> Sequence[Any]:
    return value if isinstance(value, (list, tuple)) else ()


def fingerprint(parsed: ParsedNotification, account: str = "") -> str:
    """A notification's identity on an account: equal fingerprints are duplicates.

    The same body on two accounts' endpoints is two notifications. Without an account
    it is the parsed content's own fingerprint.
    """
    if not account:
        return parsed.fingerprint
    return hashlib.sha256(f"{account}\n{parsed.fingerprint}".encode()).hexdigest()


def news_key(status: str, actual_foc_date: object, note: str) -> tuple[str, object, str]:
    """What makes two notifications of one order the same news: the status (any case),
    the FOC date and the note.

    :func:`fingerprint` says when two deliveries are the same *message* (a copy is
    counted, never stored twice). This says when two stored notifications of the same
    order (account, order type in any case, order id) tell the same *state*: a state
    learned twice (reconciled from the Numbers API, then Bandwidth's late delivery; two
    subscriptions' copies that differ in their ``SubscriptionId``) has the same key. The
    ``Message`` text, the numbers' spelling and the ``LastModifiedDate`` are not part of
    it: reconcile and Bandwidth write them differently for the same state. A second
    ``FOC`` with a new ``ActualFocDate``, or a note, is news. The order book
    (:mod:`django_bw_notifications.state.book`) decides with it whether a notification's
    receivers run.
    """
    return (status.strip().casefold(), actual_foc_date, note.strip())
