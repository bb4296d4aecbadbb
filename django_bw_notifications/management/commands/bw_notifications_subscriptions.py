"""``manage.py bw_notifications_subscriptions list|ensure|renew|delete|status``.

Keeps Bandwidth's side of the delivery right: a subscription per configured order type
and event type, pointing at our endpoint, with credentials and a long expiry. Acts on
every account of ``BW_NOTIFICATIONS_ACCOUNTS`` unless ``--account`` names one. Exits
non-zero with a clear message on any failure (and ``status`` on any problem found).
"""

from __future__ import annotations

import argparse
import json
from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...accounts import Account, AccountError, get_account, get_accounts
from ...bandwidth.client import BandwidthAPIError, NumbersClient, Subscription
from ...bandwidth.subscriptions import Change, health, is_ours, plan_ensure, plan_renew
from ...conf import app_settings
from ...routes import callback_url_problem


class Command(BaseCommand):
    help = "List, set up, renew, delete and check Bandwidth notification subscriptions."

    def add_arguments(self, parser: ArgumentParser) -> None:
        # --account is accepted before or after the action.
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument(
            "--account",
            dest="action_account",
            help="only this account (default: every configured account)",
        )
        # Django's own options too, after the action as before it (``list --settings X``):
        # unset, they leave the main parser's values alone.
        for flag in ("--settings", "--pythonpath"):
            common.add_argument(flag, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        common.add_argument(
            "-v",
            "--verbosity",
            type=int,
            choices=[0, 1, 2, 3],
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )
        for flag in ("--traceback", "--no-color", "--force-color", "--skip-checks"):
            common.add_argument(
                flag, action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
            )
        parser.add_argument("--account", help=argparse.SUPPRESS)
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        def add(name: str, help: str) -> ArgumentParser:
            return sub.add_parser(name, help=help, parents=[common])

        listing = add("list", "each subscription and its health")
        listing.add_argument("--json", action="store_true", help="JSON for scripts")
        ensure = add("ensure", "create or update a subscription per configured type (idempotent)")
        ensure.add_argument("--dry-run", action="store_true", help="show the changes only")
        ensure.add_argument(
            "--force",
            action="store_true",
            help="update every subscription of ours (after changing the callback password); "
            "subscribe even a CALLBACK_URL that reaches no endpoint of this account here",
        )
        renew = add("renew", "extend subscriptions that expire soon (for cron)")
        renew.add_argument("--dry-run", action="store_true")
        renew.add_argument(
            "--before",
            type=int,
            metavar="SECONDS",
            help="renew what expires within this many seconds "
            "(default: BW_NOTIFICATIONS_RENEW_BEFORE)",
        )
        delete = add("delete", "delete subscriptions")
        delete.add_argument("ids", nargs="*", metavar="ID", help="subscription ids")
        delete.add_argument(
            "--all-ours", action="store_true", help="every subscription pointing at CALLBACK_URL"
        )
        delete.add_argument("--dry-run", action="store_true")
        status = add("status", "exit 1 when a subscription is unhealthy (for monitoring)")
        status.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options.get("action_account") or options.get("account")
        try:
            accounts = [get_account(name)] if name else list(get_accounts())
        except AccountError as err:
            raise CommandError(str(err)) from None
        if not accounts:
            raise CommandError(
                "no accounts: set BW_NOTIFICATIONS_ACCOUNTS (see the README, "
                '"Setting up Bandwidth")'
            )
        action = options["action"]
        failures: list[str] = []
        report: dict[str, Any] = {}
        for account in accounts:
            try:
                with NumbersClient(account) as client:
                    report[account.name] = getattr(self, f"_{action}")(account, client, options)
            except (BandwidthAPIError, AccountError) as err:
                failures.append(f"{account.name}: {err}")
                self.stderr.write(self.style.ERROR(f"[{account.name}] {err}"))
        if options.get("json"):
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
        if failures:
            raise CommandError(f"{len(failures)} account(s) failed: " + "; ".join(failures))
        if action == "status" and any(report.values()):
            raise CommandError("subscriptions need attention (see above)")

    # Actions ------------------------------------------------------------------------

    def _list(
        self, account: Account, client: NumbersClient, options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        subscriptions = client.list_subscriptions()
        rows = [_as_dict(account, s) for s in subscriptions]
        if not options["json"]:
            self._table(account, rows)
        return rows

    def _ensure(
        self, account: Account, client: NumbersClient, options: dict[str, Any]
    ) -> list[dict[str, str]]:
        problem = callback_url_problem(account)
        if problem and not options["force"]:
            # Subscribing a URL that reaches nothing here loses every notification.
            raise AccountError(f"not subscribing: {problem}; fix CALLBACK_URL (or --force)")
        plan = plan_ensure(
            account,
            client.list_subscriptions(),
            renew_before=app_settings.RENEW_BEFORE,
            force=options["force"],
        )
        return self._carry_out(account, client, plan, options["dry_run"])

    def _renew(
        self, account: Account, client: NumbersClient, options: dict[str, Any]
    ) -> list[dict[str, str]]:
        before = options["before"] if options["before"] is not None else app_settings.RENEW_BEFORE
        existing = client.list_subscriptions()
        plan = plan_renew(account, existing, renew_before=before)
        for subscription in existing:
            if not is_ours(account, subscription) and not subscription.order_id:
                self.stdout.write(
                    f"[{account.name}] {subscription.id} ({subscription.kind}) points at "
                    f"{subscription.url or 'no URL'}: not ours, left alone"
                )
        if not plan:
            self.stdout.write(f"[{account.name}] nothing expires within {before} s")
        return self._carry_out(account, client, plan, options["dry_run"])

    def _delete(
        self, account: Account, client: NumbersClient, options: dict[str, Any]
    ) -> list[str]:
        ids = list(options["ids"])
        if options["all_ours"]:
            ids += [s.id for s in client.list_subscriptions() if is_ours(account, s)]
        if not ids:
            raise CommandError("name the subscriptions to delete (ID ...), or use --all-ours")
        for subscription_id in ids:
            if options["dry_run"]:
                self.stdout.write(f"[{account.name}] would delete {subscription_id}")
                continue
            client.delete_subscription(subscription_id)
            self.stdout.write(self.style.SUCCESS(f"[{account.name}] deleted {subscription_id}"))
        return ids

    def _status(
        self, account: Account, client: NumbersClient, options: dict[str, Any]
    ) -> list[str]:
        problems = health(
            account, client.list_subscriptions(), renew_before=app_settings.RENEW_BEFORE
        )
        if not options["json"]:
            for problem in problems:
                self.stdout.write(self.style.WARNING(f"[{account.name}] {problem}"))
            if not problems:
                self.stdout.write(self.style.SUCCESS(f"[{account.name}] all subscriptions OK"))
        return problems

    # Helpers ------------------------------------------------------------------------

    def _carry_out(
        self, account: Account, client: NumbersClient, plan: list[Change], dry_run: bool
    ) -> list[dict[str, str]]:
        done = []
        for change in plan:
            line = f"[{account.name}] {change.kind}: "
            subscription_id = change.subscription_id
            if change.action == "keep":
                self.stdout.write(line + f"{subscription_id} up to date")
            elif dry_run:
                target = f" {subscription_id}" if subscription_id else ""
                self.stdout.write(line + f"would {change.action}{target} ({change.reason})")
            else:
                assert change.spec is not None
                if change.action == "create":
                    subscription_id = client.create_subscription(change.spec)
                else:
                    client.update_subscription(subscription_id, change.spec)
                verb = "created" if change.action == "create" else "updated"
                self.stdout.write(
                    self.style.SUCCESS(line + f"{verb} {subscription_id} ({change.reason})")
                )
            done.append(
                {
                    "action": change.action,
                    "kind": change.kind,
                    "reason": change.reason,
                    "subscription_id": subscription_id,
                }
            )
        return done

    def _table(self, account: Account, rows: list[dict[str, Any]]) -> None:
        self.stdout.write(
            f"Account {account.name} ({account.account_id}): {len(rows)} subscription(s)"
        )
        if not rows:
            return
        columns = ("id", "kind", "url", "expires", "format", "last_status", "credentials")
        cells = [
            [
                row["id"],
                row["kind"],
                row["url"] or f"e-mail: {row['email']}",
                f"{row['expiry_seconds']} s ({row['expires_at'][:10]})"
                if row["expires_at"]
                else "unknown",
                row["format"] or "-",
                row["last_status"] or "-",
                "yes"
                if row["has_credentials"]
                else "PublicKey only"
                if row["public_key_only"]
                else ("NO" if row["is_callback"] else "-"),
            ]
            for row in rows
        ]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        self.stdout.write(
            "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))
        )
        for row in cells:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _as_dict(account: Account, subscription: Subscription) -> dict[str, Any]:
    """One subscription for ``--json`` (and, formatted, for the table)."""
    expires_at = (
        timezone.now() + timedelta(seconds=subscription.expiry)
        if subscription.expiry is not None
        else None
    )
    return {
        "id": subscription.id,
        "kind": subscription.kind + (f" #{subscription.order_id}" if subscription.order_id else ""),
        # An e-mail subscription has no URL: its address is "email", not a fake "url".
        "url": subscription.url if subscription.is_callback else None,
        "expiry_seconds": subscription.expiry,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "format": subscription.number_format,
        "last_status": subscription.status,
        "has_credentials": subscription.has_credentials,
        "public_key_only": subscription.public_key_only,
        "is_callback": subscription.is_callback,
        "email": subscription.email,
        "ours": is_ours(account, subscription),
    }
