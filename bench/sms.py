"""`python -m bench.sms [--creditor NAME] [--portal URL] [--markdown]`: SMS length and segments per kind x language.

Renders every template kind's text (friendly tone, variant a) for a typical account: a creditor name of
15 characters, a balance of $1,234.56 (principal, interest, fees), a promise, a plan with a failed
installment and a payment; first-party, third-party ("From a debt collector:") and time-barred; with the
pay link `core.links` signs today and, for comparison, the legacy v1 link. Pure (no AWS): the same
`core.messages.render` the sender calls. Prints the wording chosen (full / short / minimal), the
encoding, the length in septets (GSM-7) or UTF-16 units (UCS-2) and the number of segments.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from bench import cli
from functions.core import links
from functions.core.account import (
    Account,
    Balance,
    Debtor,
    Installment,
    InstallmentStatus,
    Payment,
    Placement,
    Plan,
    PlanStatus,
    Promise,
)
from functions.core.jobs import Channel, Template, Tone
from functions.core.lender import LenderProfile
from functions.core.messages import MessageLinks, SmsMessage, render
from functions.core.money import Money

NOW = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
KEY = b"bench-link-key-0123456789abcdef!"
LINK_REF = links.new_link_ref()
DEFAULT_PORTAL = "https://pay.cleardue.example"
DEFAULT_CREDITOR = "Northwind Loans"  # 15 characters
LANGUAGES = ("en", "es")
REASONS = {Template.RECEIPT: "receipt payment=pi_1", Template.PAYMENT_FAILED: "payment_failed next_step=another_card"}
CASES = ("first_party", "third_party", "time_barred")
# The written notices (the validation notice, a disputed debt's verification) go by email or letter only
# (core.decision): never texted, so not measured here.
SMS_KINDS = tuple(kind for kind in Template if kind not in (Template.VALIDATION_NOTICE, Template.DISPUTE_VERIFICATION))


def typical_account(language: str, *, time_barred: bool = False) -> Account:
    """$1,234.56 owed, a promise, a plan whose second installment failed, one payment received."""
    usd = lambda minor: Money(minor, "USD")  # noqa: E731
    placement = Placement(
        original_creditor="Contoso Card Services",
        itemization_date=date(2025, 12, 31),
        statute_of_limitations=date(2025, 1, 1) if time_barred else None,
    )
    return Account(
        lender_id="bench",
        external_ref="LN-0042-7781",
        debtor=Debtor(name="Dana Reyes", email="dana@example.com", phone="+13125550147", timezone="America/Chicago",
                      language=language, postal_code="60601"),
        balance=Balance(usd(110_000), usd(8_456), usd(5_000)),
        due_date=date(2026, 2, 20),
        placement=placement,
        lender_attributes={"collector_name": "Fairway Recovery", "collector_address": "PO Box 1200, Austin, TX 78701"},
        link_ref=LINK_REF,
        promise=Promise(usd(50_000), date(2026, 3, 12), NOW),
        plan=Plan("plan-1", NOW, (
            Installment(1, date(2026, 3, 1), usd(41_152), InstallmentStatus.PAID),
            Installment(2, date(2026, 4, 1), usd(41_152), InstallmentStatus.FAILED),
        ), PlanStatus.CURRENT),
        payments=(Payment("pi_1", usd(41_152), datetime(2026, 3, 1, 12, tzinfo=UTC)),),
    )  # fmt: skip


def message_links(portal: str, signer: Callable[[str, datetime, bytes], str] = links.sign) -> MessageLinks:
    token = signer(LINK_REF, NOW, KEY)
    return MessageLinks(pay_url=links.pay_url(portal, token), unsubscribe_url=f"{portal}/api/unsubscribe?t={token}")


def measure_all(creditor: str, portal: str, signer: Callable[[str, datetime, bytes], str] = links.sign):
    """(kind, language, case, message) for every kind x language x case."""
    pay = message_links(portal, signer)
    for case in CASES:
        regime = "third_party" if case == "third_party" else "first_party"
        lender = LenderProfile(lender_id="bench", creditor_name=creditor, regime=regime)
        for kind in SMS_KINDS:
            for language in LANGUAGES:
                acc = typical_account(language, time_barred=case == "time_barred")
                message = render(Channel.SMS, kind, Tone.FRIENDLY, "a", acc, lender, pay, NOW.date(), REASONS.get(kind))
                yield kind, language, case, message


def _cell(message: SmsMessage) -> str:
    encoding = "" if message.length.encoding == "gsm7" else " UCS-2"
    return f"{message.length.segments} ({message.size}, {message.length.units}{encoding})"


def main() -> None:
    parser = cli.parser("bench.sms")
    parser.add_argument("--creditor", default=DEFAULT_CREDITOR)
    parser.add_argument("--portal", default=DEFAULT_PORTAL)
    parser.add_argument("--text", action="store_true", help="print every text")
    args = parser.parse_args()

    for label, signer in (("v1 (legacy)", links.sign_v1), ("2 (compact, sent today)", links.sign)):
        url = message_links(args.portal, signer).pay_url
        print(f"pay link {label}: {len(url)} characters  {url}")
    print(f'\ncreditor "{args.creditor}" ({len(args.creditor)} characters), total $1,234.56')
    print("segments (wording, septets or UCS-2 units) per kind x language x case, with the compact link\n")
    results = {
        (kind, language, case): message for kind, language, case, message in measure_all(args.creditor, args.portal)
    }
    header = "| kind | " + " | ".join(f"{case} {language}" for case in CASES for language in LANGUAGES) + " |"
    print(header)
    print("|" + "---|" * (1 + len(CASES) * len(LANGUAGES)))
    for kind in SMS_KINDS:
        cells = [_cell(results[kind, language, case]) for case in CASES for language in LANGUAGES]
        print(f"| {kind.value} | " + " | ".join(cells) + " |")
    one = sum(1 for message in results.values() if message.length.segments == 1)
    print(f"\none segment: {one} of {len(results)}")
    legacy = list(measure_all(args.creditor, args.portal, links.sign_v1))
    print(f"with the v1 link: {sum(1 for *_, m in legacy if m.length.segments == 1)} of {len(legacy)}")
    figures = {
        "texts": len(results),
        "one_segment": one,
        "segments": {f"{k.value}/{lang}/{case}": m.length.segments for (k, lang, case), m in results.items()},
    }
    cli.write_figures(args.json, figures)
    if args.text:
        for (kind, language, case), message in results.items():
            print(f"\n{kind.value}/{language}/{case} [{message.length.units}]: {message.text}")


if __name__ == "__main__":
    main()
