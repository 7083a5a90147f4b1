"""Every template, in every language, tone and variant, on both channels, renders completely and truthfully."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from itertools import product

import pytest

from functions.core import links, sms
from functions.core.account import (
    Account,
    Balance,
    Debtor,
    Dispute,
    DisputeStatus,
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
from functions.core.messages import (
    EmailMessage,
    MessageError,
    MessageLinks,
    SmsMessage,
    render,
    validation_period_end,
)
from functions.core.money import Money

NOW = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
TODAY = NOW.date()
KEY = b"unit-test-link-key-0123456789abcdef"
LINK_REF = "Zq3x9Vb2LmN8pQr4St6UvW"
TOKEN = links.sign(LINK_REF, NOW, KEY)
LINKS = MessageLinks(
    pay_url=links.pay_url("https://pay.cleardue.example", TOKEN),
    unsubscribe_url=f"https://api.cleardue.example/unsubscribe?t={TOKEN}",
)
LANGUAGES = ("en", "es", "fr")  # fr has no templates: English text, French amounts and dates
FIRST_PARTY = LenderProfile(lender_id="acme", creditor_name="Acme Lending", help_email="help@acme.example")
THIRD_PARTY = LenderProfile(lender_id="recovery", creditor_name="Northwind Bank", regime="third_party")
COLLECTOR = {"collector_name": "Fairway Recovery LLC", "collector_address": "PO Box 1200, Austin, TX 78701"}
# Mandated wording that names what must never be threatened (Reg F 1006.26 time-barred disclosure):
# removed before looking for threats.
MANDATED = (
    "The law limits how long you can be sued on a debt.",
    "cannot sue you for it.",
    "you cannot be sued for this debt.",
    "La ley limita el tiempo durante el cual se le puede demandar por una deuda.",
    "no puede demandarle por ella.",
    "no se le puede demandar por esta deuda.",
)
BANNED = (
    r"\bsued\b", r"\bsue\b", r"lawsuit", r"\bcourt\b", r"legal action", r"attorney", r"arrest", r"\bjail\b",
    r"prison", r"police", r"criminal", r"garnish", r"seiz", r"repossess", r"credit report", r"ruin",
    r"shame", r"deadbeat", r"irresponsible", r"final warning", r"last chance", r"or else", r"consequences",
    r"demanda", r"tribunal", r"abogado", r"arresto", r"cárcel", r"policía", r"embargo", r"vergüenza",
    r"última oportunidad", r"consecuencias",
)  # fmt: skip


def account(
    *,
    name: str = "Dana Reyes",
    language: str = "en",
    currency: str = "USD",
    principal: int = 12_000,
    interest: int = 850,
    fees: int = 2_500,
    **changes: object,
) -> Account:
    base = Account(
        lender_id="acme",
        external_ref="LN-0042-7781",
        debtor=Debtor(name=name, email="dana@example.com", phone="+13125550147", timezone="America/Chicago",
                      language=language, postal_code="60601"),
        balance=Balance(Money(principal, currency), Money(interest, currency), Money(fees, currency)),
        due_date=date(2026, 2, 20),
        placement=Placement(original_creditor="Contoso Card Services", itemization_date=date(2025, 12, 31)),
        lender_attributes=dict(COLLECTOR),
        link_ref=LINK_REF,
    )  # fmt: skip
    return base.with_changes(**changes)


def with_history(acc: Account) -> Account:
    currency = acc.balance.currency
    return acc.with_changes(
        promise=Promise(Money(5_000, currency), date(2026, 3, 12), NOW),
        plan=Plan(
            "plan-1",
            NOW,
            (
                Installment(1, date(2026, 3, 1), Money(5_000, currency), InstallmentStatus.PAID),
                Installment(2, date(2026, 4, 1), Money(5_000, currency), InstallmentStatus.FAILED),
            ),
            PlanStatus.CURRENT,
        ),
        payments=(Payment("pi_1", Money(5_000, currency), datetime(2026, 3, 1, 12, tzinfo=UTC)),),
    )


EDGE_CASES: dict[str, Account] = {
    "plain": account(),
    "long_name": account(name="Maximiliana Alexandrina Josephina " * 6 + "Featherstonehaugh-Worthington"),
    "unicode_name": account(name="Zoë Ñúñez-Łukasiewicz 李小龍 😀", language="es"),
    "html_in_name": account(name='<script>alert("x")</script> & Co'),
    "zero_fees_and_interest": account(interest=0, fees=0),
    "jpy": account(currency="JPY", principal=150_000, interest=0, fees=3_000, language="ja"),
    "kwd": account(currency="KWD", principal=120_500, interest=1_250, fees=0, language="ar"),
    "with_history": with_history(account()),
    "missing_optional_facts": account(
        name="   ", placement=Placement(), lender_attributes=dict(COLLECTOR)
    ).with_changes(debtor=Debtor(name="", email="x@example.com", phone=None, timezone="UTC")),
    "time_barred": account(placement=Placement(statute_of_limitations=date(2025, 1, 1))),
}


VERIFYING = Dispute(datetime(2026, 2, 20, 15, tzinfo=UTC), "not_mine", DisputeStatus.VERIFYING, "ledger-2026-02")
TONE_VARIANTS = ((Tone.FRIENDLY, "a"), (Tone.NEUTRAL, "b"), (Tone.FIRM, "unknown"))


def all_renders():
    # Every tone and every variant (an unknown one falls back to "a"), paired to keep the run short.
    for (case, acc), language, lender, kind, (tone, variant) in product(
        EDGE_CASES.items(), LANGUAGES, (FIRST_PARTY, THIRD_PARTY), Template, TONE_VARIANTS
    ):
        debtor = replace(acc.debtor, language=language if case not in ("jpy", "kwd") else acc.debtor.language)
        subject = acc.with_changes(debtor=debtor)
        if kind is Template.DISPUTE_VERIFICATION:  # only an account with a verified dispute gets one
            subject = subject.with_changes(dispute=VERIFYING)
        for channel in Channel:
            yield case, subject, lender, kind, tone, variant, channel


def texts(message: EmailMessage | SmsMessage) -> list[str]:
    if isinstance(message, EmailMessage):
        return [message.subject, message.text, message.html]
    return [message.text]


@pytest.fixture(scope="module")
def rendered() -> list[tuple[str, Account, LenderProfile, Template, Tone, str, Channel, EmailMessage | SmsMessage]]:
    return [
        (
            case,
            acc,
            lender,
            kind,
            tone,
            variant,
            channel,
            render(channel, kind, tone, variant, acc, lender, LINKS, TODAY),
        )
        for case, acc, lender, kind, tone, variant, channel in all_renders()
    ]


def test_every_template_renders_completely_in_every_language(rendered) -> None:
    assert len(rendered) > 2_000
    for case, acc, lender, kind, tone, variant, channel, message in rendered:
        where = f"{case}/{acc.debtor.language}/{lender.regime}/{kind}/{tone}/{variant}/{channel}"
        for part in texts(message):
            assert "{{" not in part and "{%" not in part and "}}" not in part, where
            assert lender.creditor_name in part.replace("&amp;", "&") or kind is Template.VALIDATION_NOTICE, where
        body = texts(message)[1] if isinstance(message, EmailMessage) else message.text
        assert LINKS.pay_url in body, where


def _amount(money: Money, language: str) -> str:
    from functions.core import i18n

    return i18n.money(money, language)


def test_every_email_is_transparent_about_who_what_when_and_how_to_get_help(rendered) -> None:
    for case, acc, lender, kind, _tone, _variant, channel, message in rendered:
        if channel is not Channel.EMAIL:
            continue
        where = f"{case}/{acc.debtor.language}/{lender.regime}/{kind}"
        assert isinstance(message, EmailMessage)
        lang = acc.debtor.language
        for body in (message.text, message.html):
            assert _amount(acc.balance.total, lang) in body, where
            assert _amount(acc.balance.interest, lang) in body and _amount(acc.balance.fees, lang) in body, where
            assert LINKS.unsubscribe_url in body.replace("&amp;", "&"), where
            if lender.help_email:
                assert str(lender.help_email) in body, where
        if kind not in (Template.VALIDATION_NOTICE, Template.DISPUTE_VERIFICATION):  # these itemize instead
            assert _amount(acc.balance.principal, lang) in message.text, where
            from functions.core import i18n

            assert i18n.day(acc.due_date, lang) in message.text, where
        assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.headers["List-Unsubscribe"].startswith(f"<{LINKS.unsubscribe_url}>")


def test_html_escapes_what_the_lender_and_debtor_wrote(rendered) -> None:
    for case, _acc, _lender, _kind, _tone, _variant, _channel, message in rendered:
        if case == "html_in_name" and isinstance(message, EmailMessage):
            assert "<script>" not in message.html and "&lt;script&gt;" in message.html
            assert "<script>" in message.text  # plain text is not HTML: shown as written


def test_tone_never_threatens_or_shames(rendered) -> None:
    banned = re.compile("|".join(BANNED), re.IGNORECASE)
    for case, _acc, _lender, kind, tone, _variant, channel, message in rendered:
        # The HTML part is worded by the same macros as the text part: one edge case is enough for it.
        parts = texts(message) if case == "plain" else texts(message)[:2]
        for part in parts:
            cleaned = part
            for sentence in MANDATED:
                cleaned = cleaned.replace(sentence, "")
            found = banned.search(cleaned)
            assert found is None, f"{found and found.group(0)!r} in {case}/{kind}/{tone}/{channel}"


def test_third_party_messages_carry_the_debt_collector_disclosure(rendered) -> None:
    for case, acc, lender, kind, _tone, _variant, channel, message in rendered:
        body = texts(message)[-1] if isinstance(message, SmsMessage) else message.text
        spanish = acc.debtor.language == "es"
        disclosure = (
            ("De un cobrador de deudas" if spanish else "From a debt collector")
            if channel is Channel.SMS
            else ("cobrador de deudas" if spanish else "debt collector")
        )
        assert (disclosure in body) == (lender.regime == "third_party"), f"{case}/{kind}/{channel}"


def test_time_barred_debts_carry_the_disclosure_and_others_do_not(rendered) -> None:
    for case, acc, _lender, kind, _tone, _variant, channel, message in rendered:
        body = message.text
        spanish = acc.debtor.language == "es"
        marker = "demandar" if spanish else "sue"
        assert (marker in body) == (case == "time_barred"), f"{case}/{kind}/{channel}"


def test_sms_says_how_to_opt_out_and_counts_its_segments(rendered) -> None:
    for case, _acc, _lender, kind, _tone, _variant, channel, message in rendered:
        if channel is Channel.SMS:
            assert isinstance(message, SmsMessage)
            assert "STOP" in message.text, f"{case}/{kind}"
            assert message.length == sms.measure(message.text)
            assert "\u00a0" not in message.text  # Babel's no-break spaces would force UCS-2


def test_sms_prefers_one_segment_with_a_shorter_wording() -> None:
    short_links = MessageLinks(pay_url="https://pay.example/#t=abc", unsubscribe_url="https://api.example/u")
    message = render(Channel.SMS, Template.REMINDER, Tone.FRIENDLY, "a", account(), FIRST_PARTY, short_links, TODAY)
    assert message.size == "full" and message.length.segments == 1
    long_creditor = FIRST_PARTY.model_copy(update={"creditor_name": "Acme Consumer Lending and Finance Company Inc"})
    message = render(Channel.SMS, Template.REMINDER, Tone.FRIENDLY, "a", account(), long_creditor, short_links, TODAY)
    assert message.size in ("short", "minimal") and message.length.segments == 1


def test_the_validation_notice_has_every_item_of_the_model_form() -> None:
    acc = with_history(account())
    email = render(Channel.EMAIL, Template.VALIDATION_NOTICE, Tone.NEUTRAL, "a", acc, THIRD_PARTY, LINKS, TODAY)
    end = validation_period_end(TODAY)
    assert end == date(2026, 4, 12)  # 5 business days (Mar 13) + 30 days
    for item in (
        "Fairway Recovery LLC is a debt collector",  # collector statement and name
        "PO Box 1200, Austin, TX 78701",  # collector mailing address
        "To: Dana Reyes, 60601",  # consumer name and address (postal code)
        "You had an account with Contoso Card Services",  # creditor on the itemization date
        "account number ••••7781",  # account number (truncated)
        "owed now: Northwind Bank",  # current creditor
        "As of December 31, 2025, you owed: $170.00",  # itemization date and amount then
        "in interest: + $8.50",
        "in fees: + $25.00",
        "toward the debt: - $50.00",
        "Total amount of the debt now: $153.50",
        "by April 12, 2026 to dispute",  # validation period end date and dispute option
        "name and address of the original creditor",  # original-creditor request
        "www.cfpb.gov/debt-collection",
        "en español",
    ):
        assert item in email.text, item
        assert item in " ".join(re.sub(r"<[^>]+>", " ", email.html).split()), item


def test_a_validation_notice_without_the_collectors_address_is_refused() -> None:
    acc = account(lender_attributes={})
    with pytest.raises(MessageError, match="collector_address"):
        render(Channel.EMAIL, Template.VALIDATION_NOTICE, Tone.NEUTRAL, "a", acc, THIRD_PARTY, LINKS, TODAY)


def test_amounts_and_dates_follow_the_debtors_language() -> None:
    es = render(Channel.EMAIL, Template.REMINDER, Tone.NEUTRAL, "a", account(language="es"), FIRST_PARTY, LINKS, TODAY)
    assert "153,50" in es.text and "20 de febrero de 2026" in es.text and "Capital" in es.text
    jpy = render(Channel.EMAIL, Template.REMINDER, Tone.NEUTRAL, "a", EDGE_CASES["jpy"], FIRST_PARTY, LINKS, TODAY)
    assert "153,000" in jpy.text and "Principal" in jpy.text  # Japanese: no templates, English text
    kwd = render(Channel.EMAIL, Template.REMINDER, Tone.NEUTRAL, "a", account(currency="KWD", principal=1_234_567),
                 FIRST_PARTY, LINKS, TODAY)  # fmt: skip
    assert "1,234.567" in kwd.text


def test_the_content_hash_changes_with_the_content() -> None:
    a = render(Channel.EMAIL, Template.REMINDER, Tone.NEUTRAL, "a", account(), FIRST_PARTY, LINKS, TODAY)
    b = render(Channel.EMAIL, Template.REMINDER, Tone.NEUTRAL, "b", account(), FIRST_PARTY, LINKS, TODAY)
    again = render(Channel.EMAIL, Template.REMINDER, Tone.NEUTRAL, "a", account(), FIRST_PARTY, LINKS, TODAY)
    assert a.content_hash == again.content_hash != b.content_hash


def test_texts_stay_in_the_gsm7_alphabet_when_the_facts_do() -> None:
    """A non-GSM character (á, ó, a no-break space) turns a text into UCS-2: 70 characters a segment."""
    plain = with_history(account())
    for language, lender, kind, tone in product(("en", "es"), (FIRST_PARTY, THIRD_PARTY), Template, Tone):
        subject = plain.with_changes(debtor=replace(plain.debtor, language=language))
        if kind is Template.DISPUTE_VERIFICATION:
            subject = subject.with_changes(dispute=VERIFYING)
        message = render(Channel.SMS, kind, tone, "a", subject, lender, LINKS, TODAY)
        assert message.length.encoding is sms.Encoding.GSM7, f"{language}/{kind}: {message.text}"


@pytest.mark.parametrize(
    ("next_step", "english", "spanish"),
    [
        ("plan", "smaller monthly payments", "pagos mensuales más pequeños"),
        ("promise", "choose a date", "elegir una fecha de pago"),
        ("another_card", "another card or account", "otra tarjeta o cuenta"),
        ("check_details", "security code", "código de seguridad"),
        ("contact_bank", "your bank can tell you more", "su banco puede darle más información"),
        ("try_again", "trying again in a little while", "volver a intentarlo en un rato"),
    ],
)
def test_a_failed_payment_proposes_the_next_step_its_decline_calls_for(next_step, english, spanish) -> None:
    reason = f"payment_failed payment=pi_9 decline=x next_step={next_step} retry=no"
    for language, phrase in (("en", english), ("es", spanish)):
        acc = account(language=language)
        email = render(
            Channel.EMAIL, Template.PAYMENT_FAILED, Tone.FRIENDLY, "a", acc, FIRST_PARTY, LINKS, TODAY, reason
        )
        assert phrase in email.text
        text = render(Channel.SMS, Template.PAYMENT_FAILED, Tone.FRIENDLY, "a", acc, FIRST_PARTY, LINKS, TODAY, reason)
        assert LINKS.pay_url in text.text and "STOP" in text.text
    others = {"plan", "promise"} - {next_step}
    plain = render(
        Channel.EMAIL, Template.PAYMENT_FAILED, Tone.FRIENDLY, "a", account(), FIRST_PARTY, LINKS, TODAY, reason
    )
    for other in others:
        assert {"plan": "smaller monthly payments", "promise": "choose a date"}[other] not in plain.text


def test_a_receipt_names_the_payment_its_job_is_for_not_just_the_latest() -> None:
    currency = "USD"
    acc = account().with_changes(
        payments=(
            Payment("pi_early", Money(2_500, currency), datetime(2026, 3, 1, 12, tzinfo=UTC)),
            Payment("pi_late", Money(7_700, currency), datetime(2026, 3, 7, 12, tzinfo=UTC)),
        )
    )
    reason = "receipt payment=pi_early"
    early = render(Channel.EMAIL, Template.RECEIPT, Tone.FRIENDLY, "a", acc, FIRST_PARTY, LINKS, TODAY, reason)
    assert "$25.00" in early.subject and "$77.00" not in early.subject
    latest = render(Channel.EMAIL, Template.RECEIPT, Tone.FRIENDLY, "a", acc, FIRST_PARTY, LINKS, TODAY, None)
    assert "$77.00" in latest.subject


# --- one SMS segment with the compact pay link (issue 5) -----------------------------------------------------------

DEFAULT_PORTAL = "https://pay.cleardue.example"
OPT_OUT = {"en": "Reply STOP to opt out", "es": "Baja: responda STOP"}
ONE_SEGMENT_KINDS = (
    Template.REMINDER,
    Template.BROKEN_PROMISE,
    Template.INSTALLMENT_DUE,
    Template.RECEIPT,
    Template.PAYMENT_FAILED,
)
TYPICAL_CREDITOR = LenderProfile(lender_id="acme", creditor_name="Northwind Loans")  # 15 characters


def typical(language: str) -> Account:
    """$1,234.56 owed, a promise, a plan with a failed installment and one payment: every kind has its facts."""
    return with_history(account(language=language, principal=110_000, interest=8_456, fees=5_000))


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", ONE_SEGMENT_KINDS)
def test_a_first_party_text_fits_one_gsm7_segment_with_the_compact_pay_link(kind, language) -> None:
    token = links.sign(LINK_REF, NOW, KEY)
    pay = MessageLinks(pay_url=links.pay_url(DEFAULT_PORTAL, token), unsubscribe_url=f"{DEFAULT_PORTAL}/u?t={token}")
    failed = "payment_failed next_step=another_card"  # the longest next step in the short wording
    reason = {Template.RECEIPT: "receipt payment=pi_1", Template.PAYMENT_FAILED: failed}
    for tone in Tone:
        message = render(
            Channel.SMS, kind, tone, "a", typical(language), TYPICAL_CREDITOR, pay, TODAY, reason.get(kind)
        )
        where = f"{language}/{kind}/{tone}: {message.text}"
        assert message.length.segments == 1 and message.length.encoding is sms.Encoding.GSM7, where
        assert pay.pay_url in message.text and message.text.endswith(OPT_OUT[language]), where
        assert "Northwind Loans" in message.text, where
        if kind is Template.REMINDER:
            assert message.size in ("full", "short"), where  # says the amount and the due date
            assert _amount(Money(123_456, "USD"), language).replace("\u00a0", " ") in message.text, where


def test_every_text_carries_the_pay_link_and_the_opt_out(rendered) -> None:
    for case, acc, lender, kind, _tone, _variant, channel, message in rendered:
        if channel is Channel.SMS:
            language = "es" if acc.debtor.language == "es" else "en"
            where = f"{case}/{acc.debtor.language}/{lender.regime}/{kind}: {message.text}"
            assert LINKS.pay_url in message.text and message.text.endswith(OPT_OUT[language]), where
            assert LINKS.pay_url.split("#t=")[1].startswith("2"), "the compact token is the one sent"


def test_texts_say_dates_briefly_with_the_year_only_when_it_is_not_this_years() -> None:
    this_year = render(Channel.SMS, Template.REMINDER, Tone.FRIENDLY, "a", account(), FIRST_PARTY, LINKS, TODAY)
    assert "was due Feb 20." in this_year.text
    last_year = account(due_date=date(2025, 12, 20), language="es")
    text = render(Channel.SMS, Template.REMINDER, Tone.FRIENDLY, "a", last_year, FIRST_PARTY, LINKS, TODAY).text
    assert "vencido el 20 dic 2025." in text


def test_a_settlement_receipt_says_the_account_is_settled_and_nothing_more_is_owed() -> None:
    from functions.core.account import AccountStatus

    paid = Payment("pi_s", Money(9_000, "USD"), datetime(2026, 3, 7, 12, tzinfo=UTC), source="settlement")
    for language, phrase, sms_phrase in (("en", "settled: you owe nothing more", "Account settled"),
                                         ("es", "queda saldada", "Cuenta saldada")):  # fmt: skip
        settled = account(language=language).with_changes(status=AccountStatus.SETTLED, payments=(paid,))
        email = render(
            Channel.EMAIL, Template.RECEIPT, Tone.FRIENDLY, "a", settled, FIRST_PARTY, LINKS, TODAY, "receipt"
        )
        assert phrase in email.text and ("$0.00" in email.text or "0,00" in email.text)
        assert "$153.50" not in email.text and "153,50" not in email.text
        text = render(Channel.SMS, Template.RECEIPT, Tone.FRIENDLY, "a", settled, FIRST_PARTY, LINKS, TODAY, "receipt")
        assert text.size != "full" or sms_phrase in text.text
