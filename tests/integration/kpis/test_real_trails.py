"""Given three weeks of collections by the real scheduler, senders and webhooks (moto in-process, a virtual
clock), the independent checker finds no violation in any trail, and the KPIs agree with what was sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from functions.core import audit_check, kpis
from functions.core.audit import AuditEvent, EventType
from tests.events.factories import make_account, place
from tests.integration.kpis.conftest import Collections

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
AFTERNOON = timedelta(hours=5)  # 17:00 UTC: inside the window from New York to Honolulu (a receipt goes at once)
END = START + timedelta(days=21)
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Pacific/Honolulu")


def phone(n: int) -> str:
    return f"+1312555{n:04d}"


def portfolio() -> list[str]:
    """Ten debtors: zones from New York to Honolulu (one in two zones), half with a consented mobile, one
    mobile without consent, due dates from a week ahead to two months past."""
    ids = []
    for n in range(10):
        account = make_account(f"K-{n}", due=date(2026, 3, 9) - timedelta(days=7 * n), timezone=ZONES[n % 4])
        debtor = replace(
            account.debtor,
            email=f"debtor{n}@example.com",
            phone=phone(n),
            phone_is_mobile=n % 2 == 0 or n == 9,
            sms_consent=n % 2 == 0,
            timezones=("America/Chicago", "America/Los_Angeles") if n == 3 else (),
        )
        account = account.with_changes(debtor=debtor)
        place(account, START - timedelta(hours=1))
        ids.append(account.account_id)
    return ids


def run(collections: Collections) -> list[str]:
    ids = portfolio()
    answers = {
        START + timedelta(days=5) + AFTERNOON: lambda at: collections.text_reply(phone(0), "STOP", at, "in-stop"),
        START + timedelta(days=8) + AFTERNOON: lambda at: collections.payment(ids[1], 15_350, at, "pi_full"),
        START + timedelta(days=10) + AFTERNOON: lambda at: collections.payment(ids[2], 5_000, at, "pi_part"),
    }
    at: datetime | None = START
    while at is not None and at < END:
        for moment in [m for m in answers if m <= at]:
            answers.pop(moment)(moment)
        collections.tick(at)
        at = collections.next_tick(at)
    return ids


def sent_counts() -> tuple[int, list[str]]:
    ses = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    texts = list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())
    return len(ses), [number for number, _ in texts]


def test_real_trails_have_no_violation_and_the_kpis_match_what_was_sent(collections: Collections) -> None:
    ids = run(collections)
    records = collections.records()
    emails, texted = sent_counts()

    assert collections.violations() == []

    result = kpis.overall(records, END)
    assert result.messages == emails + len(texted) > 20
    assert result.messages_by_channel == {"email": emails, "sms": len(texted)}
    assert texted and set(texted) <= {phone(n) for n in (0, 2, 4, 6, 8)}  # only consented mobiles
    assert result.opt_outs == 1
    assert result.collected_minor == {"USD": 15_350 + 5_000}
    assert result.placed_minor == {"USD": 10 * 15_350}
    assert (result.resolved, result.cured) == (1, 1)
    assert result.contacted == 10 and result.right_party_contacts == 2
    assert result.median_days_to_resolution is not None and 8 <= result.median_days_to_resolution <= 9
    by_template = kpis.messages_by(records, keys=("template",))
    assert by_template[("receipt",)].messages == 2
    assert by_template[("reminder",)].payments == 2
    stopped = next(r for r in records if r.account.account_id == ids[0])
    assert EventType.CONSENT_REVOKED in [e.type for e in stopped.trail]

    # The clean result is not vacuous: a text recorded after the real STOP in this real trail is found.
    revoked = next(e for e in stopped.trail if e.type is EventType.CONSENT_REVOKED)
    sent = next(e for e in stopped.trail if e.type is EventType.REMINDER_SENT)
    forged = AuditEvent(
        stopped.account.account_id, revoked.at + timedelta(hours=1), EventType.REMINDER_SENT, "forged", "test",
        {**sent.detail, "channel": "sms"}, seq=len(stopped.trail) + 1,
    )  # fmt: skip
    violations = audit_check.check_trail(stopped.account, [*stopped.trail, forged])
    assert [(v.rule, v.event_id) for v in violations] == [(audit_check.RULE_OPT_OUT, "forged")]
