"""The portal's rules: who may see the account, what it shows, and which choices are open.

Pure: the identity check against keyed hashes, the transparent breakdown (Reg F 1006.34 itemization),
money display in the debtor's language (Babel, the currency's ISO exponent), the options the lender's
bounds allow, promises and preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from babel import Locale
from babel.numbers import parse_pattern

from functions.core import plans
from functions.core.account import (
    Account,
    AccountStatus,
    Block,
    Channel,
    InstallmentStatus,
    PlanStatus,
    Promise,
    PromiseStatus,
)
from functions.core.errors import Rejected
from functions.core.lender import LenderProfile
from functions.core.money import Money, currency_exponent
from functions.core.verification import fact_matches, normalize_fact

LANGUAGES = ("en", "es")
MAX_FAILED_ATTEMPTS = 5
LOCK_PERIOD = timedelta(minutes=30)


class PortalRejected(Rejected):
    """A payment or a promise the portal's rules refuse (nothing due, an amount or a date out of range)."""


def language_for(requested: str | None) -> str:
    """A supported language from a code or an Accept-Language header ("es-MX,es;q=0.9"), else English."""
    for part in (requested or "").split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in LANGUAGES:
            return code
    return LANGUAGES[0]


def format_money(amount: Money, language: str) -> str:
    """CLDR display in `language` with exactly the currency's ISO 4217 minor digits ($1,234.56, 1.234,56 US$)."""
    exponent = currency_exponent(amount.currency)
    locale = Locale.parse(language_for(language))
    pattern = parse_pattern(locale.currency_formats["standard"].pattern)
    pattern.frac_prec = (exponent, exponent)
    return pattern.apply(
        Decimal(amount.minor).scaleb(-exponent), locale, currency=amount.currency, currency_digits=False
    )


# --- identity -------------------------------------------------------------------------------------


class Check(StrEnum):
    DATE_OF_BIRTH = "date_of_birth"
    FACT = "fact"
    POSTAL_CODE_LAST4 = "postal_code_last4"


@dataclass(frozen=True, slots=True)
class Answers:
    """What the debtor typed; only the fields of the check in force are looked at."""

    date_of_birth: date | None = None
    fact: str | None = None
    postal_code: str | None = None
    last4: str | None = None


def identity_check_for(account: Account, lender: LenderProfile) -> Check | None:
    """The check this account can pass: the lender's, else postcode + last 4 when the account lacks the
    configured fact; None when nothing can be checked online (the debtor must contact the lender)."""
    configured = Check(lender.identity_check)
    if configured is not Check.POSTAL_CODE_LAST4 and configured.value in account.verification:
        return configured
    if account.debtor.postal_code and len(account.external_ref) >= 4:
        return Check.POSTAL_CODE_LAST4
    return None


def _same(typed: str, expected: str) -> bool:
    return normalize_fact(typed).replace("-", "") == normalize_fact(expected).replace("-", "")


def verify(account: Account, check: Check, answers: Answers, fact_key: bytes) -> bool:
    """Whether the answers prove the identity; facts compared against keyed hashes only."""
    if check is Check.DATE_OF_BIRTH:
        expected = account.verification.get(check.value)
        return bool(
            expected and answers.date_of_birth
            and fact_matches(fact_key, account.account_id, check.value, answers.date_of_birth.isoformat(), expected)
        )  # fmt: skip
    if check is Check.FACT:
        expected = account.verification.get(check.value)
        return bool(
            expected
            and answers.fact
            and fact_matches(fact_key, account.account_id, check.value, answers.fact, expected)
        )
    postal = account.debtor.postal_code
    return bool(
        postal and answers.postal_code and answers.last4
        and _same(answers.postal_code, postal)
        and normalize_fact(answers.last4) == normalize_fact(account.external_ref[-4:])
    )  # fmt: skip


def attempts_left(failures: int) -> int:
    return max(0, MAX_FAILED_ATTEMPTS - failures)


# --- the breakdown --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Itemization:
    """Reg F 1006.34(c)(2): the balance on the itemization date and what changed since."""

    date: date | None
    balance_then: Money
    interest_since: Money
    fees_since: Money
    payments_since: Money
    credits_since: Money


def itemize(account: Account) -> Itemization:
    """The itemization from the account's own facts: cleardue does not accrue interest or fees, so
    what moved the balance since placement is the payments applied (refunds given back) and credits."""
    currency = account.balance.currency
    since = account.placement.itemization_date
    applied = 0
    credits = 0
    for payment in account.payments:
        if since is None or payment.at.date() >= since:
            net = payment.amount.minor - payment.refunded_minor
            applied += min(net, payment.fees_minor + payment.interest_minor + payment.principal_minor)
            credits += payment.credit_minor
    zero = Money.zero(currency)
    return Itemization(
        date=since,
        balance_then=Money(account.balance.total.minor + applied, currency),
        interest_since=zero,
        fees_since=zero,
        payments_since=Money(applied, currency),
        credits_since=Money(credits, currency),
    )


def due_now(account: Account) -> Money:
    """What settles the account's current step: the next installment of a current plan, else everything."""
    plan = account.plan
    if plan and plan.status is PlanStatus.CURRENT:
        for installment in plan.installments:
            if installment.status is not InstallmentStatus.PAID:
                return installment.amount
    return account.balance.total if account.balance.total.is_positive else Money.zero(account.balance.currency)


@dataclass(frozen=True, slots=True)
class Options:
    pay_full: Money | None
    pay_partial_min: Money | None
    plan: plans.PlanTerms | None
    promise_max_date: date | None


def options(account: Account, lender: LenderProfile, today: date) -> Options:
    """The choices open today; none while the account is not collectible (paid, disputed, recalled...)."""
    balance = account.balance.total
    if account.status is not AccountStatus.ACTIVE or not balance.is_positive or account.flags:
        return Options(None, None, None, None)
    partial_min = lender.payments.min_partial_minor
    has_plan = account.plan is not None and account.plan.status is PlanStatus.CURRENT
    return Options(
        pay_full=balance,
        pay_partial_min=Money(partial_min, balance.currency) if partial_min < balance.minor else None,
        plan=None if has_plan else plans.terms(balance, today, lender.plans),
        promise_max_date=today + timedelta(days=lender.payments.max_promise_days),
    )


def require_collectible(account: Account) -> Money:
    """The balance owed, or a refusal when nothing can be paid right now."""
    if account.status is not AccountStatus.ACTIVE or not account.balance.total.is_positive:
        raise PortalRejected("nothing_due", "There is nothing to pay on this account.", status=409)
    return account.balance.total


def payment_amount(account: Account, lender: LenderProfile, requested_minor: int | None) -> Money:
    """The amount to charge: the total by default, or a partial payment within the lender's minimum."""
    owed = require_collectible(account)
    if requested_minor is None or requested_minor == owed.minor:
        return owed
    minimum = min(lender.payments.min_partial_minor, owed.minor)
    if requested_minor < minimum or requested_minor > owed.minor:
        raise PortalRejected(
            "amount_out_of_range",
            f"Choose an amount from {Money(minimum, owed.currency).to_decimal_string()} "
            f"to {owed.to_decimal_string()} {owed.currency}.",
        )
    return Money(requested_minor, owed.currency)


def promise(
    account: Account, lender: LenderProfile, amount_minor: int, due: date, today: date, now: datetime
) -> Promise:
    """A promise to pay `amount_minor` by `due` (the debtor's local date) within the lender's bounds."""
    owed = require_collectible(account)
    if not 1 <= amount_minor <= owed.minor:
        raise PortalRejected(
            "amount_out_of_range", f"Choose an amount up to {owed.to_decimal_string()} {owed.currency}."
        )
    latest = today + timedelta(days=lender.payments.max_promise_days)
    if not today <= due <= latest:
        raise PortalRejected("promise_date", f"Choose a date from {today.isoformat()} to {latest.isoformat()}.")
    return Promise(amount=Money(amount_minor, owed.currency), due=due, made_at=now, status=PromiseStatus.PENDING)


def with_opt_outs(account: Account, opt_out: frozenset[Channel]) -> dict[Channel, Block]:
    """The blocks after the debtor's choice: chosen channels opted out; an earlier opt-out the debtor now
    clears is lifted. Bounces, complaints and other blocks are never lifted by a preference."""
    blocked = {channel: block for channel, block in account.blocked_channels.items() if not (
        block is Block.OPTED_OUT and channel not in opt_out
    )}  # fmt: skip
    for channel in opt_out:
        blocked.setdefault(channel, Block.OPTED_OUT)
    return blocked


# --- third-party disclosures (Reg F) --------------------------------------------------------------

# 1006.18(e): a debt collector's communications say so; the portal shows it with the account.
COLLECTOR_DISCLOSURE = {
    "en": "This is a communication from a debt collector. This is an attempt to collect a debt, and any "
    "information obtained will be used for that purpose.",
    "es": "Esta es una comunicación de un cobrador de deudas. Es un intento de cobrar una deuda, y cualquier "
    "información obtenida se usará para ese fin.",
}
RECEIPT_BUSINESS_DAYS = 5  # 1006.34(b)(5): receipt may be assumed this many business days after sending (verify)
VALIDATION_PERIOD_DAYS = 30


def disclosure(lender: LenderProfile, language: str) -> str | None:
    """The collector disclosure for a third-party lender's accounts, in the session's language."""
    if lender.regime != "third_party":
        return None
    return COLLECTOR_DISCLOSURE[language_for(language)]


def validation_period_end(notice_sent: date) -> date:
    """1006.34(b)(5): 30 days after assumed receipt, receipt being 5 business days (Mon-Fri) after sending."""
    day, counted = notice_sent, 0
    while counted < RECEIPT_BUSINESS_DAYS:
        day += timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    return day + timedelta(days=VALIDATION_PERIOD_DAYS)
