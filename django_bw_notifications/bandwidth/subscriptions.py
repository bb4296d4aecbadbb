"""What the subscriptions of an account should be, and what to change to get there.

Pure planning over :class:`~django_bw_notifications.bandwidth.client.Subscription` values:
the ``bw_notifications_subscriptions`` command lists the account's subscriptions, asks
these functions what to do, prints the plan, and (unless ``--dry-run``) carries it out.

"Ours" means a subscription to a whole order type or event type (no ``OrderId``) whose
URL is the account's ``CALLBACK_URL``. Only ours are ever updated or renewed: Bandwidth
never returns a password, so a subscription pointing elsewhere cannot be rewritten
without dropping its credentials, and it may serve another system.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..accounts import Account
from ..catalog import normalise_name
from .client import Subscription, SubscriptionSpec

__all__ = [
    "Change",
    "desired",
    "expires_soon",
    "health",
    "is_ours",
    "plan_ensure",
    "plan_renew",
]


@dataclass(frozen=True)
class Change:
    """One step of a plan: ``create``, ``update`` or ``keep`` a subscription, and why."""

    action: str
    #: ``order:<type>`` or ``event:<type>``.
    kind: str
    reason: str
    spec: SubscriptionSpec | None = None
    #: The existing subscription's id (``update``/``keep``), "" for ``create``.
    subscription_id: str = ""


def desired(account: Account) -> list[SubscriptionSpec]:
    """One spec per configured order type and event type of ``account``."""
    account.require_callback()
    return [_spec(account, order_type=t) for t in account.order_types] + [
        _spec(account, event_type=e) for e in account.event_types
    ]


def is_ours(account: Account, subscription: Subscription) -> bool:
    """A whole-type callback subscription that posts to the account's ``CALLBACK_URL``."""
    return (
        subscription.is_callback
        and not subscription.order_id
        and _same_url(subscription.url, account.callback_url)
    )


def expires_soon(subscription: Subscription, renew_before: int) -> str:
    """Why ``subscription`` needs renewing (``"expires in 3600 s"``, or ``"expires in
    unknown"`` when Bandwidth reports no ``Expiry``), or ``""`` when it does not.

    The one expiry rule: ``status``, ``ensure``, ``renew`` and the metrics all ask here.
    An expiry not reported is treated as expiring: renewing sets one, and a subscription
    whose end nobody knows is not one to trust.
    """
    if subscription.expiry is not None and subscription.expiry >= renew_before:
        return ""
    left = "unknown" if subscription.expiry is None else f"{subscription.expiry} s"
    return f"expires in {left}"


def _credentials_problem(subscription: Subscription) -> str:
    """Why deliveries of ``subscription`` would be refused for credentials ("" if not)."""
    if subscription.public_key_only:
        return (
            "only a PublicKey in its CallbackCredentials, no Basic pair: every delivery "
            "gets 401 here"
        )
    if not subscription.has_credentials:
        return "no callback credentials; anyone could post to its URL"
    return ""


def plan_ensure(
    account: Account, existing: list[Subscription], *, renew_before: int, force: bool = False
) -> list[Change]:
    """Create what is missing, update what differs (``force``: update all of ours)."""
    changes = []
    for spec in desired(account):
        kind = _spec_kind(spec)
        mine = [s for s in existing if is_ours(account, s) and _kind_key(s.kind) == kind]
        if not mine:
            changes.append(Change("create", spec.kind, "no subscription points here", spec))
            continue
        current = mine[0]
        reasons = _differences(spec, current, renew_before)
        if force and not reasons:
            reasons = ["--force (credentials cannot be compared: Bandwidth hides passwords)"]
        if reasons:
            changes.append(Change("update", spec.kind, "; ".join(reasons), spec, current.id))
        else:
            changes.append(Change("keep", spec.kind, "up to date", spec, current.id))
    return changes


def plan_renew(
    account: Account, existing: list[Subscription], *, renew_before: int
) -> list[Change]:
    """Extend each of our subscriptions that expires within ``renew_before`` seconds."""
    specs = {_spec_kind(spec): spec for spec in desired(account)}
    changes = []
    for subscription in existing:
        if not is_ours(account, subscription):
            continue
        reason = expires_soon(subscription, renew_before)
        if not reason:
            continue
        # Ours even when its type is no longer configured: it still delivers here, so it
        # is renewed all the same, with the configured URL, credentials and format.
        spec = specs.get(_kind_key(subscription.kind)) or _spec(
            account, order_type=subscription.order_type, event_type=subscription.event_type
        )
        changes.append(Change("update", subscription.kind, reason, spec, subscription.id))
    return changes


def health(account: Account, existing: list[Subscription], *, renew_before: int) -> list[str]:
    """Every reason to worry about the account's subscriptions, one line each."""
    problems = []
    for subscription in existing:
        if not subscription.is_callback:
            continue  # an e-mail subscription posts nowhere: nothing to secure or reach
        label = f"{subscription.id} ({subscription.kind})"
        credentials = _credentials_problem(subscription)
        if credentials:
            problems.append(f"{label}: {credentials}")
        elif is_ours(account, subscription) and subscription.username and account.basic_auth:
            accepted = {username for username, _ in account.basic_auth}
            if subscription.username not in accepted:
                problems.append(
                    f"{label}: sends username {subscription.username!r}, which this "
                    "account's endpoint does not accept: every delivery gets 401 here"
                )
        expiring = expires_soon(subscription, renew_before)
        if expiring:
            problems.append(f"{label}: {expiring}")
        if subscription.last_delivery_ok is False:
            problems.append(f"{label}: last delivery failed ({subscription.status})")
        if not subscription.order_id and not _same_url(subscription.url, account.callback_url):
            problems.append(f"{label}: points elsewhere ({subscription.url})")
    if account.callback_url:
        covered = {_kind_key(s.kind) for s in existing if is_ours(account, s)}
        for kind in [f"order:{t}" for t in account.order_types] + [
            f"event:{e}" for e in account.event_types
        ]:
            if _kind_key(kind) not in covered:
                problems.append(f"{kind}: no subscription points at {account.callback_url}")
    return problems


def _differences(spec: SubscriptionSpec, current: Subscription, renew_before: int) -> list[str]:
    reasons = []
    if current.public_key_only:
        reasons.append("only a PublicKey, no Basic credentials")
    elif not current.has_credentials:
        reasons.append("no credentials")
    elif current.username and current.username != spec.username:
        reasons.append(f"username {current.username!r}")
    if current.number_format and current.number_format.upper() != spec.number_format:
        reasons.append(f"number format {current.number_format}")
    expiring = expires_soon(current, renew_before)
    if expiring:
        reasons.append(expiring)
    return reasons


def _spec(account: Account, *, order_type: str = "", event_type: str = "") -> SubscriptionSpec:
    username, password = account.basic_auth[0]
    return SubscriptionSpec(
        url=account.callback_url,
        username=username,
        password=password,
        expiry=account.expiry,
        number_format=account.number_format,
        order_type=order_type,
        event_type=event_type,
    )


def _spec_kind(spec: SubscriptionSpec) -> str:
    return _kind_key(spec.kind)


def _kind_key(kind: str) -> str:
    # Bandwidth compares names case-sensitively when it sends, but one subscription per
    # type is the goal: "portins" and "PortIns" would be the same to a person.
    return normalise_name(kind)


def _same_url(a: str, b: str) -> bool:
    # Exact: without its trailing slash the URL is redirected, and the POST's body lost.
    return bool(a.strip()) and a.strip() == b.strip()
