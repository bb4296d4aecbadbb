"""``manage.py bw_notifications_inventory``: the number inventory against Bandwidth's.

For each account with API credentials (or the one named by ``--account``), reads the
numbers Bandwidth has in service (``GET /accounts/{id}/inserviceNumbers``, every page) and
compares them with the inventory's ``in_service`` numbers: numbers Bandwidth has in service
that the inventory does not (with the inventory's state for them, if it knows them), and
the reverse (with the order that put them in service). ``--json`` prints the same as one
JSON document. Exit status: 0 when they agree, 1 on drift, 2 when an account could not
be compared (the other accounts are still compared and reported).
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...accounts import Account, AccountError, get_account, get_accounts, recorded_names
from ...bandwidth.client import BandwidthAPIError, NumbersClient
from ...models import AccountNumber, NumberState
from ...parsing import to_e164


@dataclass
class Drift:
    """One account's comparison."""

    account: str
    account_id: str
    bandwidth_in_service: int = 0
    inventory_in_service: int = 0
    #: In service at Bandwidth, not in the inventory: number and the inventory's state.
    only_at_bandwidth: list[dict[str, Any]] = field(default_factory=list)
    #: In service in the inventory, not at Bandwidth: number and the order that set it.
    only_in_inventory: list[dict[str, Any]] = field(default_factory=list)
    #: Numbers Bandwidth listed that have no E.164 form (reported, not compared).
    unreadable: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def drifted(self) -> bool:
        return bool(self.only_at_bandwidth or self.only_in_inventory)


class Command(BaseCommand):
    help = (
        "Compare the number inventory with the numbers Bandwidth has in service, per "
        "account; exit status 1 on drift."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--account", help="only this account (default: every account)")
        parser.add_argument("--json", action="store_true", help="print one JSON document")
        parser.add_argument(
            "--page-size",
            type=int,
            default=1000,
            metavar="N",
            help="numbers per page asked of Bandwidth (1 to 5000; default 1000)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["page_size"] <= 5000:
            raise CommandError("--page-size must be between 1 and 5000", returncode=2)
        accounts = self._accounts(options["account"])
        results = [self._compare(account, options["page_size"]) for account in accounts]
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "drift": any(result.drifted for result in results),
                        "accounts": [asdict(result) for result in results],
                    },
                    indent=2,
                )
            )
        else:
            for result in results:
                self._report(result)
        failed = [result.account for result in results if result.error]
        if failed:
            raise CommandError(
                f"could not compare account(s) {', '.join(failed)} (see above)", returncode=2
            )
        drifted = [result.account for result in results if result.drifted]
        if drifted:
            if not options["json"]:
                self.stderr.write(
                    self.style.WARNING(
                        f"The inventory differs from Bandwidth for {', '.join(drifted)}: "
                        "run bw_notifications_reconcile, or bw_notifications_rebuild_state "
                        "after restoring missed notifications."
                    )
                )
            raise SystemExit(1)

    def _accounts(self, name: str | None) -> list[Account]:
        try:
            if name:
                account = get_account(name)
                account.require_api()
                return [account]
            accounts = list(get_accounts())
        except AccountError as err:
            raise CommandError(str(err), returncode=2) from None
        usable = []
        for account in accounts:
            try:
                account.require_api()
            except AccountError:
                continue
            usable.append(account)
        if not usable:
            raise CommandError(
                "no account in BW_NOTIFICATIONS_ACCOUNTS has an ACCOUNT_ID and API "
                "credentials: the inventory needs them to ask Bandwidth",
                returncode=2,
            )
        return usable

    def _compare(self, account: Account, page_size: int) -> Drift:
        result = Drift(account.name, account.account_id)
        try:
            with NumbersClient(account) as client:
                listed = client.in_service_numbers(page_size=page_size)
        except BandwidthAPIError as err:
            result.error = str(err)
            return result
        at_bandwidth: set[str] = set()
        for number in listed:
            e164 = to_e164(number.strip())
            if e164:
                at_bandwidth.add(e164)
            else:
                result.unreadable.append(number)
        rows = AccountNumber.objects.filter(account__in=recorded_names(account.name))
        in_service = {
            row.e164: row
            for row in rows.filter(state=NumberState.IN_SERVICE).only(
                "e164", "order_type", "order_id", "state_since"
            )
        }
        result.bandwidth_in_service = len(at_bandwidth)
        result.inventory_in_service = len(in_service)
        missing = sorted(at_bandwidth - in_service.keys())
        known = dict(rows.filter(e164__in=missing).values_list("e164", "state") if missing else ())
        result.only_at_bandwidth = [
            {"number": number, "inventory_state": known.get(number)} for number in missing
        ]
        result.only_in_inventory = [
            {
                "number": number,
                "order_type": in_service[number].order_type,
                "order_id": in_service[number].order_id,
                "since": in_service[number].state_since.isoformat(),
            }
            for number in sorted(in_service.keys() - at_bandwidth)
        ]
        return result

    def _report(self, result: Drift) -> None:
        label = f"{result.account} ({result.account_id})"
        if result.error:
            self.stderr.write(self.style.ERROR(f"{label}: {result.error}"))
            return
        summary = (
            f"{label}: {result.bandwidth_in_service} in service at Bandwidth, "
            f"{result.inventory_in_service} in the inventory; "
            f"{len(result.only_at_bandwidth)} only at Bandwidth, "
            f"{len(result.only_in_inventory)} only in the inventory"
        )
        style = self.style.WARNING if result.drifted else self.style.SUCCESS
        self.stdout.write(style(summary))
        for entry in result.only_at_bandwidth:
            state = entry["inventory_state"]
            ours = f"the inventory has it {state}" if state else "the inventory has no record"
            self.stdout.write(f"  only at Bandwidth: {entry['number']} ({ours})")
        for entry in result.only_in_inventory:
            self.stdout.write(
                f"  only in the inventory: {entry['number']} (in service by "
                f"{entry['order_type']} {entry['order_id']} since {entry['since']})"
            )
        for number in result.unreadable:
            self.stdout.write(f"  not compared (no E.164 form): {number!r}")
