"""One cycle of the local stack (moto server, the sample lender and portfolio, `cleardue up --once`'s steps),
then the audit checker and the KPIs over every trail it wrote. Run in its own interpreter by
test_local_stack_trails.py (the stack sets process-wide environment and connections); prints one JSON
object: the violations found, and a few KPIs."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from functions.core import audit_check, kpis
from functions.core.clock import parse_utc

ROOT = Path(__file__).resolve().parents[3]
AT = "2026-03-08T19:00:00Z"  # inside 08:00-21:00 in every sample time zone (Honolulu to Puerto Rico)


def main() -> None:
    from local.stack import running

    with tempfile.TemporaryDirectory(prefix="cleardue-kpis-") as directory, running(Path(directory)) as stack:
        from functions.store import accounts, events, lenders
        from functions.store.accounts import AccountModel
        from local.runner import LocalRunner, VirtualClock

        at = parse_utc(AT)
        runner = LocalRunner(stack, VirtualClock(at), out=lambda line: None)
        profile = runner.load_lender(ROOT / "local" / "sample_lender.json", at)
        runner.upload_portfolio(ROOT / "local" / "sample_portfolio.csv", profile.lender_id)
        report = runner.cycle(at)
        records = []
        for item in AccountModel.scan():
            account = accounts.get(item.account_id)
            assert account is not None
            records.append(kpis.AccountRecord(account, events.history(item.account_id), item.created_at))
        lender_rules = lenders.get_or_default(profile.lender_id).rules()
        rules = {profile.lender_id: audit_check.CheckRules.from_rules(lender_rules)}
        violations = audit_check.check_all(((r.account, r.trail) for r in records), rules)
        result = kpis.overall(records, at)
    print(
        json.dumps(
            {
                "violations": [v.as_dict() for v in violations],
                "accounts": result.accounts,
                "messages": result.messages,
                "emails_sent": len(report.emails),
                "texts_sent": len(report.texts),
            }
        )
    )


if __name__ == "__main__":
    main()
