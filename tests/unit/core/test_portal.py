"""The portal's rules: identity, display, itemization, options, promises and opt-outs."""

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from functions.core import portal
from functions.core.account import AccountStatus, Block, Channel, Flag, Payment
from functions.core.lender import LenderProfile, PaymentBounds
from functions.core.money import Money
from functions.core.portal import Answers, Check, PortalRejected
from functions.core.verification import fact_hash
from tests.events.factories import make_account

KEY = b"fact-key-0123456789"
NOW = datetime(2026, 3, 9, 15, tzinfo=UTC)
TODAY = date(2026, 3, 9)
LENDER = LenderProfile(lender_id="acme", creditor_name="Acme")


def with_birth(account, birth: str = "1985-04-12"):
    return account.with_changes(
        verification={"date_of_birth": fact_hash(KEY, account.account_id, "date_of_birth", birth)}
    )


def with_postal(account, postal: str | None = "SW1A 1AA"):
    return account.with_changes(debtor=replace(account.debtor, postal_code=postal))


@pytest.mark.parametrize(
    ("minor", "currency", "language", "shown"),
    [
        (123_456, "USD", "en", "$1,234.56"),
        (123_456, "USD", "es", "1.234,56\xa0US$"),
        (1_234, "JPY", "en", "¥1,234"),
        (12_345, "KWD", "en", "KWD12.345"),
        (100_050, "EUR", "es", "1.000,50\xa0€"),
    ],
)
def test_money_is_shown_in_the_language_with_the_currency_exponent(minor, currency, language, shown) -> None:
    assert portal.format_money(Money(minor, currency), language) == shown


def test_language_comes_from_a_code_or_an_accept_language_header() -> None:
    assert portal.language_for("es-MX,es;q=0.9,en;q=0.8") == "es"
    assert portal.language_for("fr-FR,fr;q=0.9") == "en"
    assert portal.language_for(None) == "en"


def test_date_of_birth_matches_only_the_keyed_hash() -> None:
    account = with_birth(make_account())

    assert portal.verify(account, Check.DATE_OF_BIRTH, Answers(date_of_birth=date(1985, 4, 12)), KEY)
    assert not portal.verify(account, Check.DATE_OF_BIRTH, Answers(date_of_birth=date(1985, 4, 13)), KEY)
    assert not portal.verify(account, Check.DATE_OF_BIRTH, Answers(), KEY)
    assert not portal.verify(account, Check.DATE_OF_BIRTH, Answers(date_of_birth=date(1985, 4, 12)), b"other")


def test_postal_code_and_last_four_ignore_case_and_spacing() -> None:
    account = with_postal(make_account("ACC-77x9"))

    assert portal.verify(account, Check.POSTAL_CODE_LAST4, Answers(postal_code="sw1a1aa", last4="77X9"), KEY)
    assert not portal.verify(account, Check.POSTAL_CODE_LAST4, Answers(postal_code="SW1A 1AB", last4="77x9"), KEY)
    assert not portal.verify(account, Check.POSTAL_CODE_LAST4, Answers(postal_code="SW1A 1AA", last4="7799"), KEY)


def test_without_the_configured_fact_the_check_falls_back_to_postcode_or_to_a_person() -> None:
    assert portal.identity_check_for(with_birth(make_account()), LENDER) is Check.DATE_OF_BIRTH
    assert portal.identity_check_for(with_postal(make_account()), LENDER) is Check.POSTAL_CODE_LAST4
    assert portal.identity_check_for(make_account(), LENDER) is None
    fact_lender = LENDER.model_copy(update={"identity_check": "fact"})
    assert portal.identity_check_for(with_postal(with_birth(make_account())), fact_lender) is Check.POSTAL_CODE_LAST4


def test_itemization_adds_back_what_was_paid_since_the_itemization_date() -> None:
    account = make_account(principal=10_000, interest=0, fees=0).with_changes(
        payments=(
            Payment("pi_1", Money(3_000, "USD"), NOW, principal_minor=3_000),
            Payment("pi_2", Money(1_000, "USD"), NOW, principal_minor=500, credit_minor=500, refunded_minor=0),
        ),
    )

    items = portal.itemize(account)

    assert items.payments_since == Money(3_500, "USD")
    assert items.credits_since == Money(500, "USD")
    assert items.balance_then == Money(13_500, "USD")


def test_options_follow_the_bounds_and_close_when_the_account_is_not_collectible() -> None:
    account = make_account(principal=12_000, interest=850, fees=2_500)  # 153.50

    options = portal.options(account, LENDER, TODAY)

    assert options.pay_full == Money(15_350, "USD")
    assert options.pay_partial_min == Money(1_000, "USD")
    assert options.plan is not None and options.plan.max_installments == 6
    assert options.promise_max_date == date(2026, 3, 23)
    assert portal.options(account.with_changes(flags=frozenset({Flag.DISPUTE})), LENDER, TODAY).pay_full is None
    assert portal.options(account.with_changes(status=AccountStatus.PAID), LENDER, TODAY).plan is None


def test_a_partial_payment_must_be_at_least_the_minimum_and_at_most_the_total() -> None:
    account = make_account()  # 153.50

    assert portal.payment_amount(account, LENDER, None) == Money(15_350, "USD")
    assert portal.payment_amount(account, LENDER, 1_000) == Money(1_000, "USD")
    for wrong in (999, 15_351):
        with pytest.raises(PortalRejected, match="from 10.00 to 153.50 USD"):
            portal.payment_amount(account, LENDER, wrong)
    tiny = LenderProfile(lender_id="acme", creditor_name="Acme", payments=PaymentBounds(min_partial_minor=50_000))
    assert portal.payment_amount(account, tiny, 15_350) == Money(15_350, "USD")


def test_a_promise_date_is_within_the_lenders_days() -> None:
    account = make_account()

    made = portal.promise(account, LENDER, 5_000, date(2026, 3, 23), TODAY, NOW)

    assert (made.amount, made.due, made.made_at) == (Money(5_000, "USD"), date(2026, 3, 23), NOW)
    with pytest.raises(PortalRejected) as late:
        portal.promise(account, LENDER, 5_000, date(2026, 3, 24), TODAY, NOW)
    assert late.value.code == "promise_date"
    with pytest.raises(PortalRejected):
        portal.promise(account, LENDER, 5_000, date(2026, 3, 8), TODAY, NOW)


def test_opting_out_and_back_in_never_lifts_a_bounce() -> None:
    account = make_account().with_changes(blocked_channels={Channel.SMS: Block.BOUNCED})

    out = portal.with_opt_outs(account, frozenset({Channel.EMAIL, Channel.SMS}))
    back = portal.with_opt_outs(account.with_changes(blocked_channels=out), frozenset())

    assert out == {Channel.EMAIL: Block.OPTED_OUT, Channel.SMS: Block.BOUNCED}
    assert back == {Channel.SMS: Block.BOUNCED}


def test_a_third_party_collector_says_so_in_the_debtors_language() -> None:
    collector = LENDER.model_copy(update={"regime": "third_party"})

    assert portal.disclosure(LENDER, "en") is None
    assert portal.disclosure(collector, "en").startswith("This is a communication from a debt collector.")
    assert portal.disclosure(collector, "es").startswith("Esta es una comunicación de un cobrador de deudas.")


def test_the_validation_period_ends_30_days_after_receipt_assumed_5_business_days_after_sending() -> None:
    assert portal.validation_period_end(date(2026, 3, 6)) == date(2026, 4, 12)  # Fri + 5 business days = Fri 13th
    assert portal.validation_period_end(date(2026, 3, 9)) == date(2026, 4, 15)  # Mon -> Mon 16th
