"""Channel choice: responsiveness per channel, escalation from an unanswered one, return after engagement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.core.account import Block, Channel, Contact, Debtor
from functions.core.channels import answered_marks, responsiveness
from functions.core.compliance import gate_policy
from functions.core.decision import decide
from functions.core.engagement import Signal, increments
from functions.core.lender import LenderProfile
from functions.core.policy import OutreachPolicy
from tests.events.factories import make_account

NOW = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # 09:00 in Chicago; the account is 16 days past due (mid, tier 2)
RULES = LenderProfile(lender_id="acme", creditor_name="Acme").rules()  # tier 2: email first, then SMS
OFF = LenderProfile(
    lender_id="acme", creditor_name="Acme", outreach=OutreachPolicy.model_validate({"learning": False})
).rules()


def decide_at(account, rules=RULES):
    return decide(account.with_changes(next_contact_at=NOW), NOW, rules, gate_policy(rules))


def texting(account, consent: bool = True):
    d = account.debtor
    debtor = Debtor(d.name, d.email, "+13125550147", d.timezone, "en", phone_is_mobile=True, sms_consent=consent)
    return account.with_changes(debtor=debtor)


def counted(account, *signals: tuple[Signal, Channel | None]):
    """The account with the counters the webhooks would have added for these signals, in order (an
    `answered` mark takes the channel's deliveries counted so far, as the store's SET does)."""
    counts = dict(account.engagement)
    for signal, channel in signals:
        for key, amount in increments(signal, channel, NOW, account.debtor.timezone).items():
            counts[key] = counts.get(key, 0) + amount
        if signal is not Signal.DELIVERED:
            for mark, source in answered_marks(channel).items():
                counts[mark] = counts.get(source, 0)
    return account.with_changes(engagement=counts)


EMAIL_DELIVERED = (Signal.DELIVERED, Channel.EMAIL)
SMS_DELIVERED = (Signal.DELIVERED, Channel.SMS)


def test_responsiveness_is_a_beta_posterior_of_responses_over_deliveries() -> None:
    counts = {"email:delivered": 8, "email:opened": 5, "email:clicked": 2}
    record = responsiveness(counts, Channel.EMAIL)
    # The links followed (2 of 8), not the opens: a text has no open to compare with.
    assert record is not None and record.beta == (3, 7) and record.mean == 0.3
    assert record.unanswered == 0  # counters from before the mark: it answered once, so it is not unanswered
    assert responsiveness({"email:opened": 2}, Channel.EMAIL) is None  # nothing delivered: nothing to judge
    capped = responsiveness({"sms:delivered": 2, "sms:replied": 5}, Channel.SMS)
    assert capped is not None and capped.responses == 2


def test_the_fast_record_is_the_dataclasses_record() -> None:
    from functions.core.channels import Responsiveness

    record = responsiveness({"sms:delivered": 5, "sms:replied": 1, "sms:answered": 2}, Channel.SMS)
    expected = Responsiveness(5, 1, 3)
    assert record == expected and hash(record) == hash(expected) and repr(record) == repr(expected)


def test_k_unanswered_deliveries_escalate_to_the_next_consented_channel() -> None:
    account = texting(make_account())
    assert decide_at(account).job.channel is Channel.EMAIL
    quiet = counted(account, EMAIL_DELIVERED, EMAIL_DELIVERED)
    assert decide_at(quiet).job.channel is Channel.EMAIL  # two unanswered: not yet (k = 3)
    quieter = counted(quiet, EMAIL_DELIVERED)
    plan = decide_at(quieter)
    assert plan.job.channel is Channel.SMS
    assert "escalated: 3 unanswered email deliveries" in plan.why


def test_escalation_never_reaches_a_channel_without_consent_or_opted_out() -> None:
    quiet = (EMAIL_DELIVERED,) * 4
    no_consent = counted(texting(make_account(), consent=False), *quiet)
    assert decide_at(no_consent).job.channel is Channel.EMAIL  # the gate refuses SMS: email, still
    opted_out = counted(texting(make_account()), *quiet).with_changes(blocked_channels={Channel.SMS: Block.OPTED_OUT})
    assert decide_at(opted_out).job.channel is Channel.EMAIL
    no_phone = counted(make_account(), *quiet)
    assert decide_at(no_phone).job.channel is Channel.EMAIL


def test_engagement_on_the_preferred_channel_brings_it_back() -> None:
    escalated = counted(texting(make_account()), *(EMAIL_DELIVERED,) * 3, SMS_DELIVERED)
    assert decide_at(escalated).job.channel is Channel.SMS
    opened = counted(escalated, (Signal.OPENED, Channel.EMAIL))  # the debtor opens an email at last
    plan = decide_at(opened)
    assert plan.job.channel is Channel.EMAIL
    assert not any(line.startswith("escalated") for line in plan.why)
    paid = counted(escalated, (Signal.PAID, None))  # a payment answers every channel
    assert decide_at(paid).job.channel is Channel.EMAIL


def test_a_channel_that_answers_clearly_better_goes_first() -> None:
    answers_texts = counted(
        texting(make_account()),
        *(SMS_DELIVERED,) * 4,
        (Signal.REPLIED, Channel.SMS),
        (Signal.REPLIED, Channel.SMS),
        (Signal.REPLIED, Channel.SMS),
        EMAIL_DELIVERED,
        (Signal.OPENED, Channel.EMAIL),
        *(EMAIL_DELIVERED,) * 3,
        (Signal.OPENED, Channel.EMAIL),  # email answers too (not escalated), but 2 in 5 against SMS's 3 in 4
    )
    plan = decide_at(answers_texts)
    assert plan.job.channel is Channel.SMS and "engagement: sms answers best" in plan.why


def test_texts_acted_on_beat_emails_only_opened() -> None:
    # Given a debtor who opens most emails but follows none of their links, and follows the link in texts
    # (the portal counts a visit by a text's link as its click),
    reads_email_acts_on_texts = counted(
        texting(make_account()),
        *(EMAIL_DELIVERED, (Signal.OPENED, Channel.EMAIL)) * 4,
        *(SMS_DELIVERED,) * 4,
        (Signal.CLICKED, Channel.SMS),
        (Signal.CLICKED, Channel.SMS),
    )
    # then texts go first: opens say the email was seen, not that it works.
    plan = decide_at(reads_email_acts_on_texts)
    assert plan.job.channel is Channel.SMS and "engagement: sms answers best" in plan.why
    # With a click on an email for each text's, email (the policy's first) keeps its place.
    clicks_both = counted(reads_email_acts_on_texts, (Signal.CLICKED, Channel.EMAIL), (Signal.CLICKED, Channel.EMAIL))
    assert decide_at(clicks_both).job.channel is Channel.EMAIL


def test_when_every_channel_is_unanswered_the_one_tried_longest_ago_goes_first() -> None:
    history = (
        Contact(NOW - timedelta(days=12), Channel.SMS),
        Contact(NOW - timedelta(days=9), Channel.EMAIL),
        Contact(NOW - timedelta(days=6), Channel.EMAIL),
        Contact(NOW - timedelta(days=3), Channel.EMAIL),
    )
    both = counted(texting(make_account()), *(EMAIL_DELIVERED,) * 3, *(SMS_DELIVERED,) * 3)
    plan = decide_at(both.with_changes(recent_contacts=history))
    assert plan.job.channel is Channel.SMS
    assert "every channel unanswered: sms, tried longest ago" in plan.why


def test_the_debtors_stated_channel_is_never_demoted() -> None:
    prefers_email = counted(texting(make_account()), *(EMAIL_DELIVERED,) * 5).with_changes(
        preferred_channel=Channel.EMAIL
    )
    assert decide_at(prefers_email).job.channel is Channel.EMAIL


def test_learning_off_keeps_the_policys_channel_order() -> None:
    quiet = counted(texting(make_account()), *(EMAIL_DELIVERED,) * 5)
    plan = decide_at(quiet, rules=OFF)
    assert plan.job.channel is Channel.EMAIL and not any(line.startswith("escalated") for line in plan.why)
    history = tuple(Contact(NOW - timedelta(days=d), Channel.EMAIL) for d in (20, 14, 8))
    assert decide_at(texting(make_account()).with_changes(recent_contacts=history), rules=OFF).job.channel is (
        Channel.EMAIL
    )
