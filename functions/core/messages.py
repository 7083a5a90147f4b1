"""Messages: one job becomes a clear, respectful email or text, rendered from Jinja2 templates.

Templates live in `functions/core/templates/`: a layout per channel (`email.html.j2` autoescaped,
`email.txt.j2`, `sms.txt.j2`) and, per language, `common.j2` (labels and disclosures) plus one file
per template kind (`reminder.j2`, `validation_notice.j2`, ...) whose macros word the subject, the
opening and the text for each tone and variant. Every message says who the creditor is, what is
owed by component, the due date, one action (the signed pay link) and how to get help; under the
third-party regime it carries the debt-collector disclosure, and the validation notice carries every
item of the CFPB model form (Reg F 1006.34). Rendering is strict: an unknown fact is an error, never
a blank. The facts are computed here, already localised (Babel), so templates only place words.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_skeleton
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from functions.core import i18n, sms
from functions.core.account import Account, AccountStatus, Balance, InstallmentStatus
from functions.core.clock import local_date
from functions.core.jobs import Channel, Template, Tone
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.payments import parse_reason

TEMPLATES = Path(__file__).parent / "templates"
VARIANTS = ("a", "b")  # subject wording; an unknown variant falls back to "a"
SMS_SIZES = ("full", "short", "minimal")  # tried in order: the first that fits one segment wins
VALIDATION_PERIOD_DAYS = 30  # Reg F 1006.34(b)(5): 30 days after receipt
ASSUMED_RECEIPT_BUSINESS_DAYS = 5  # receipt assumed 5 business days after sending (verify; 1006.34(b)(5))
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+\n")
_SMS_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})  # Babel's spaces are not GSM-7


class MessageError(ValueError):
    """A message that cannot be written truthfully: a fact it must state is missing."""


@dataclass(frozen=True, slots=True)
class MessageLinks:
    """Where a message points: the signed pay link and the one-click unsubscribe endpoint."""

    pay_url: str
    unsubscribe_url: str


@dataclass(frozen=True, slots=True)
class EmailMessage:
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    language: str

    @property
    def content_hash(self) -> str:
        return _digest(self.subject, self.text, self.html)


@dataclass(frozen=True, slots=True)
class SmsMessage:
    text: str
    size: str  # full | short | minimal
    length: sms.SmsLength
    language: str

    @property
    def content_hash(self) -> str:
        return _digest(self.text)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


@cache
def _environment(html: bool) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def add_business_days(start: date, days: int) -> date:
    """`start` plus `days` weekdays (public holidays are not counted out: conservative by a day or two)."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def validation_period_end(sent_on: date) -> date:
    """The last day to dispute: 30 days after the assumed receipt (Reg F 1006.34(b)(5))."""
    return add_business_days(sent_on, ASSUMED_RECEIPT_BUSINESS_DAYS) + timedelta(days=VALIDATION_PERIOD_DAYS)


def is_time_barred(account: Account, today: date) -> bool:
    """The statute of limitations has run: no suit may be threatened, and the disclosure is given (1006.26)."""
    limit = account.placement.statute_of_limitations
    return limit is not None and today > limit


def _lender_fact(lender: LenderProfile, account: Account, name: str) -> str | None:
    """An optional lender fact: the profile's field when it has one, else the portfolio row's attribute."""
    value = getattr(lender, name, None) or account.lender_attributes.get(name)
    return str(value).strip() or None if value else None


def short_day(value: date, language: str | None, today: date) -> str:
    """A date as a text says it: "Feb 20", "20 feb"; with the year when it is not this year's ("Dec 20, 2025")."""
    skeleton = "MMMd" if value.year == today.year else "yMMMd"
    return format_skeleton(skeleton, value, locale=i18n.locale_for(language))


def facts(
    account: Account, lender: LenderProfile, links: MessageLinks, today: date, reason: str | None = None
) -> dict[str, Any]:
    """Everything a template may say, localised for the debtor: strings, flags, or None when unknown.

    `reason` is the job's (see `core.payments`): a receipt names its payment (`payment=<id>`), a failed
    payment notice its next step (`next_step=another_card`)."""
    notice = parse_reason(reason)
    language = account.debtor.language or lender.language
    money = lambda amount: i18n.money(amount, language)  # noqa: E731
    day = lambda value: i18n.day(value, language)  # noqa: E731
    short = lambda value: short_day(value, language, today)  # noqa: E731  (texts: one SMS segment)
    settled = account.status is AccountStatus.SETTLED
    # A settled account owes nothing: the forgiven rest is the lender's to write off, not the debtor's.
    zero = Money(0, account.balance.currency)
    balance = Balance(zero, zero, zero) if settled else account.balance
    name = " ".join(account.debtor.name.split())
    third_party = lender.regime == "third_party"
    result: dict[str, Any] = {
        "settled": settled,
        "name": name or None,
        "first_name": name.split()[0] if name else None,
        "creditor": lender.creditor_name,
        "account": account.masked_ref,
        "principal": money(balance.principal),
        "interest": money(balance.interest),
        "fees": money(balance.fees),
        "total": money(balance.total),
        "has_interest": balance.interest.minor != 0,
        "has_fees": balance.fees.minor != 0,
        "due_date": day(account.due_date),
        "due_day": short(account.due_date),
        "past_due": today > account.due_date,
        "pay_url": links.pay_url,
        "unsubscribe_url": links.unsubscribe_url,
        "help_email": str(lender.help_email) if lender.help_email else None,
        "third_party": third_party,
        "collector": (_lender_fact(lender, account, "collector_name") or lender.creditor_name) if third_party else None,
        "collector_address": _lender_fact(lender, account, "collector_address") if third_party else None,
        "time_barred": is_time_barred(account, today),
        "promise_amount": None,
        "promise_date": None,
        "promise_day": None,
        "installment_number": None,
        "installment_amount": None,
        "installment_date": None,
        "installment_day": None,
        "payment_amount": None,
        "payment_date": None,
        "next_step": notice.get("next_step"),
        "validation": None,
        "verification": None,
    }
    if account.promise is not None:
        result["promise_amount"] = money(account.promise.amount)
        result["promise_date"] = day(account.promise.due)
        result["promise_day"] = short(account.promise.due)
    if account.plan is not None:
        pending = [
            item
            for item in account.plan.installments
            if item.status in (InstallmentStatus.SCHEDULED, InstallmentStatus.FAILED, InstallmentStatus.MISSED)
        ]
        if pending:
            result["installment_number"] = str(pending[0].number)
            result["installment_amount"] = money(pending[0].amount)
            result["installment_date"] = day(pending[0].due)
            result["installment_day"] = short(pending[0].due)
    if account.payments:
        named = [p for p in account.payments if p.payment_id == notice.get("payment")]
        paid = named[-1] if named else account.payments[-1]
        result["payment_amount"] = money(paid.amount)
        result["payment_date"] = day(local_date(paid.at, account.debtor.timezone))
    return result


def _validation_facts(account: Account, lender: LenderProfile, today: date, language: str) -> dict[str, Any]:
    """The itemization of Reg F 1006.34(c)(2): the balance on the itemization date and what changed since.

    The lender's interest and fee components are taken as accrued since the itemization date, and the
    payments made through cleardue since then are added back, so the lines always add up to today's total."""
    placement = account.placement
    itemization_date = (
        placement.itemization_date or placement.charge_off_date or placement.last_payment_date or account.due_date
    )
    balance = account.balance
    currency = balance.currency
    paid = sum(
        (p.amount.minor - p.refunded_minor for p in account.payments if p.at.date() >= itemization_date), start=0
    )
    credits = account.credit.minor if account.credit else 0
    on_itemization = balance.total.minor - balance.interest.minor - balance.fees.minor + paid + credits
    money = lambda minor: i18n.money(Money(minor, currency), language)  # noqa: E731
    return {
        "itemization_date": i18n.day(itemization_date, language),
        "creditor_on_itemization": placement.original_creditor or lender.creditor_name,
        "current_creditor": lender.creditor_name,
        "on_itemization": money(on_itemization),
        "interest_since": money(balance.interest.minor),
        "fees_since": money(balance.fees.minor),
        "paid_since": money(paid + credits),
        "current": money(balance.total.minor),
        "period_end": i18n.day(validation_period_end(today), language),
        "consumer_postal_code": account.debtor.postal_code,
    }


def _verification_facts(account: Account, lender: LenderProfile, today: date, language: str) -> dict[str, Any]:
    """FDCPA 809(b): the itemization the validation notice gives, the day the debtor disputed, the operator's
    reference for the verification (a document id: never free text about the debtor)."""
    dispute = account.dispute
    if dispute is None:
        raise MessageError("a dispute verification needs the account's dispute")
    facts = _validation_facts(account, lender, today, language)
    facts["disputed_on"] = i18n.day(local_date(dispute.opened_at, account.debtor.timezone), language)
    facts["ref"] = dispute.verification_ref
    return facts


def _context(
    kind: Template, tone: Tone, variant: str, account: Account, lender: LenderProfile, links: MessageLinks, today: date,
    reason: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    language = i18n.template_language(account.debtor.language or lender.language)
    fact_map = facts(account, lender, links, today, reason)
    if kind is Template.VALIDATION_NOTICE:
        if fact_map["third_party"] and not fact_map["collector_address"]:
            raise MessageError("a validation notice needs the debt collector's mailing address (collector_address)")
        fact_map["validation"] = _validation_facts(account, lender, today, account.debtor.language or lender.language)
    elif kind is Template.DISPUTE_VERIFICATION:
        fact_map["verification"] = _verification_facts(
            account, lender, today, account.debtor.language or lender.language
        )
    return {
        "lang": language,
        "kind": kind.value,
        "tone": tone.value,
        "variant": variant if variant in VARIANTS else VARIANTS[0],
        "f": fact_map,
    }


def render(
    channel: Channel, kind: Template | str, tone: Tone | str, variant: str, account: Account,
    lender: LenderProfile, links: MessageLinks, today: date, reason: str | None = None,
) -> EmailMessage | SmsMessage:  # fmt: skip
    """The message for a job on its channel (`reason`: the job's, for receipts and failed payments): an email
    (subject, plain text and HTML parts, the RFC 8058 one-click headers) or a text (the fullest wording that
    fits one segment, else the shortest one)."""
    context = _context(Template(kind), Tone(tone), variant, account, lender, links, today, reason)
    if channel is Channel.SMS:
        return _sms(context)
    return _email(context, lender, links)


def _email(context: dict[str, Any], lender: LenderProfile, links: MessageLinks) -> EmailMessage:
    text_env, html_env = _environment(False), _environment(True)
    subject = " ".join(text_env.get_template("subject.txt.j2").render(context).split())
    text = _BLANK_LINES.sub("\n\n", text_env.get_template("email.txt.j2").render(context)).strip() + "\n"
    html = html_env.get_template("email.html.j2").render(context)
    targets = [f"<{links.unsubscribe_url}>"]
    if lender.help_email:
        targets.append(f"<mailto:{lender.help_email}?subject=unsubscribe>")
    headers = {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return EmailMessage(subject=subject, text=text, html=html, headers=headers, language=context["lang"])


def _sms(context: dict[str, Any]) -> SmsMessage:
    template = _environment(False).get_template("sms.txt.j2")
    best: SmsMessage | None = None
    for size in SMS_SIZES:
        text = " ".join(template.render({**context, "size": size}).translate(_SMS_SPACES).split())
        candidate = SmsMessage(text=text, size=size, length=sms.measure(text), language=context["lang"])
        if candidate.length.single_segment:
            return candidate
        if best is None or candidate.length.segments < best.length.segments:
            best = candidate
    assert best is not None
    return best


def sent_on(now: datetime, account: Account) -> date:
    """The day of sending in the debtor's primary zone (how "today" reads in the message)."""
    return local_date(now, account.debtor.timezone)
