"""The decision: template, channel, tone and time for a due account, and the record of why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from functions.core.account import (
    AccountStatus,
    Block,
    Channel,
    Contact,
    Debtor,
    Dispute,
    Installment,
    InstallmentStatus,
    Payment,
    Placement,
    Plan,
    PlanStatus,
    Promise,
    PromiseStatus,
    Stage,
)
from functions.core.compliance import gate_policy
from functions.core.decision import TIME_BARRED, ContactPlan, NoContactReason, _job_id, _plan, decide
from functions.core.jobs import Job, Template, Tone, job_id_for
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.outreach import still_eligible
from tests.events.factories import make_account

NOW = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # 09:00 in Chicago; the account is 16 days past due (mid)
FIRST = LenderProfile(lender_id="acme", creditor_name="Acme").rules()
THIRD = LenderProfile(lender_id="acme", creditor_name="Acme", regime="third_party").rules()


def decide_at(account, now=NOW, rules=FIRST):
    return decide(account.with_changes(next_contact_at=now), now, rules, gate_policy(rules))


def texting(account, consent: bool = True):
    d = account.debtor
    debtor = Debtor(d.name, d.email, "+13125550147", d.timezone, "en", phone_is_mobile=True, sms_consent=consent)
    return account.with_changes(debtor=debtor)


def test_a_due_account_gets_a_reminder_by_email_in_the_stage_tone_and_says_why() -> None:
    plan = decide_at(make_account())
    job = plan.job
    assert job is not None
    assert (job.template, job.channel, job.stage, job.tone, job.tier, job.variant) == (
        "reminder",
        Channel.EMAIL,
        Stage.MID,
        Tone.FRIENDLY,  # tier 2 (newly delinquent, good history) keeps it friendly
        2,
        "a",
    )
    assert job.scheduled_for == NOW and plan.next_contact_at == NOW + timedelta(days=3)
    assert job.reason == "stage mid (dpd 16); tier 2: newly delinquent, good history; reminder by email, friendly"
    assert Job.model_validate_json(job.model_dump_json()) == job  # what goes on the queue is this valid Job


@pytest.mark.parametrize(
    ("due", "tone"), [(date(2026, 2, 25), Tone.FRIENDLY), (date(2026, 2, 1), Tone.FIRM), (date(2025, 12, 1), Tone.FIRM)]
)
def test_the_tone_firms_with_the_stage(due: date, tone: Tone) -> None:
    job = decide_at(make_account(due=due, principal=20_000)).job
    assert job is not None and job.tone is tone


def test_a_time_barred_debt_is_marked_for_the_disclosure() -> None:
    barred = make_account().with_changes(placement=Placement(statute_of_limitations=date(2025, 12, 31)))
    job = decide_at(barred).job
    assert job is not None and TIME_BARRED in job.reason.split("; ")
    assert TIME_BARRED not in (decide_at(make_account()).job.reason or "").split("; ")


def test_third_party_regime_sends_the_validation_notice_first_then_reminders() -> None:
    before_due = make_account(due=date(2026, 3, 20))  # no stage open: the notice still goes
    job = decide_at(before_due, rules=THIRD).job
    assert job is not None and (job.template, job.channel) == (Template.VALIDATION_NOTICE.value, Channel.EMAIL)
    sent = make_account().with_changes(validation_notice_at=NOW - timedelta(days=10))
    assert decide_at(sent, rules=THIRD).job.template == "reminder"
    sms_only = texting(make_account(email=None))
    plan = decide_at(sms_only, rules=THIRD)
    assert plan.job is None and plan.next_contact_at is None  # the notice needs email: nothing else may go first


def test_a_high_balance_debtor_who_consented_gets_a_text_first() -> None:
    rich = make_account(principal=150_000)
    assert decide_at(texting(rich)).job.channel is Channel.SMS
    assert decide_at(texting(rich, consent=False)).job.channel is Channel.EMAIL  # no consent: no text
    opted_out = texting(rich).with_changes(blocked_channels={Channel.SMS: Block.OPTED_OUT})
    assert decide_at(opted_out).job.channel is Channel.EMAIL


def test_the_debtors_preferred_channel_comes_first() -> None:
    account = texting(make_account()).with_changes(preferred_channel=Channel.SMS)
    assert decide_at(account).job.channel is Channel.SMS


def test_an_unanswered_channel_escalates_to_the_next() -> None:
    quiet = tuple(Contact(NOW - timedelta(days=d), Channel.EMAIL) for d in (20, 14, 8))
    account = texting(make_account()).with_changes(recent_contacts=quiet)
    plan = decide_at(account)
    assert plan.job is not None and plan.job.channel is Channel.SMS
    assert "escalated: 3 unanswered email attempts" in plan.why
    paid = account.with_changes(payments=(Payment("pi_1", Money(1000, "USD"), NOW - timedelta(days=10)),))
    assert decide_at(paid).job.channel is Channel.EMAIL  # a payment answered: keep the channel


PROMISE = Promise(Money(5_000, "USD"), date(2026, 3, 10), datetime(2026, 3, 5, 15, tzinfo=UTC))


def test_a_pending_promise_waits_then_reminds_once_then_breaks() -> None:
    promised = make_account().with_changes(promise=PROMISE)
    waiting = decide_at(promised)
    assert (waiting.job, waiting.reason) == (None, NoContactReason.WAITING)
    assert waiting.next_contact_at == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # 08:00 CDT the day before

    notice = decide_at(promised, datetime(2026, 3, 9, 15, tzinfo=UTC))
    assert notice.job is not None and notice.job.template == Template.PROMISE_DUE.value
    resume = datetime(2026, 3, 13, 5, 0, tzinfo=UTC)  # the end of the promised day (CDT) + 2 days' grace
    assert notice.next_contact_at == resume
    reminded = promised.with_changes(recent_contacts=(Contact(datetime(2026, 3, 9, 15, tzinfo=UTC), Channel.EMAIL),))
    again = decide_at(reminded, datetime(2026, 3, 10, 15, tzinfo=UTC))
    assert again.job is None and again.next_contact_at == resume

    midnight = decide_at(promised, resume)  # 00:00 in Chicago: the message waits for the morning, the promise too
    assert (midnight.job, midnight.updated) == (None, None)
    assert midnight.next_contact_at == datetime(2026, 3, 13, 13, 0, tzinfo=UTC)
    broken = decide_at(promised, midnight.next_contact_at)
    assert broken.job is not None and broken.job.template == Template.BROKEN_PROMISE.value
    assert broken.updated is not None and broken.updated.promise.status is PromiseStatus.BROKEN


def test_a_promise_kept_by_a_payment_is_marked_kept() -> None:
    kept = make_account().with_changes(
        promise=PROMISE, payments=(Payment("pi_2", Money(5_000, "USD"), datetime(2026, 3, 9, 12, tzinfo=UTC)),)
    )
    plan = decide_at(kept, datetime(2026, 3, 9, 15, tzinfo=UTC))
    assert plan.updated is not None and plan.updated.promise.status is PromiseStatus.KEPT
    assert "promise kept" in plan.why


def plan_with(*statuses: InstallmentStatus) -> Plan:
    dues = (date(2026, 3, 11), date(2026, 4, 10), date(2026, 5, 10))
    return Plan(
        "plan-1",
        datetime(2026, 3, 1, tzinfo=UTC),
        tuple(Installment(n + 1, dues[n], Money(5_000, "USD"), status) for n, status in enumerate(statuses)),
        PlanStatus.CURRENT,
    )


def test_a_current_plan_gets_only_installment_notices() -> None:
    on_plan = make_account().with_changes(plan=plan_with(*[InstallmentStatus.SCHEDULED] * 3))
    early = decide_at(on_plan, datetime(2026, 3, 5, 15, tzinfo=UTC))
    assert early.job is None and early.next_contact_at == datetime(2026, 3, 8, 13, tzinfo=UTC)  # 3 days before, 08:00
    due = decide_at(on_plan)
    assert due.job is not None and due.job.template == Template.INSTALLMENT_DUE.value
    assert due.next_contact_at == datetime(2026, 4, 7, 13, tzinfo=UTC)  # the next installment's notice (CDT)


def test_a_failed_installment_gets_one_missed_installment_notice() -> None:
    failed = make_account().with_changes(plan=plan_with(InstallmentStatus.FAILED, *[InstallmentStatus.SCHEDULED] * 2))
    at = datetime(2026, 3, 12, 15, tzinfo=UTC)
    plan = decide_at(failed, at)
    assert plan.job is not None and plan.job.template == Template.MISSED_INSTALLMENT.value
    told = failed.with_changes(recent_contacts=(Contact(at, Channel.EMAIL),))
    assert decide_at(told, at + timedelta(hours=3)).job is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": AccountStatus.PAID}, NoContactReason.NOT_COLLECTIBLE),
        ({"blocked_channels": {Channel.EMAIL: Block.OPTED_OUT}}, NoContactReason.NO_USABLE_CHANNEL),
        ({"blocked_channels": {Channel.EMAIL: Block.BOUNCED}}, NoContactReason.NO_USABLE_CHANNEL),
        ({"blocked_channels": {Channel.EMAIL: Block.EMPLOYER}}, NoContactReason.NO_USABLE_CHANNEL),
        ({"blocked_channels": {Channel.EMAIL: Block.COMPLAINED}}, NoContactReason.NO_USABLE_CHANNEL),
        (
            {"dispute": Dispute(NOW - timedelta(days=1), "not mine")},
            "blocked: suppressed: disputed: paused until verification is sent",
        ),
    ],
)
def test_accounts_that_may_not_be_contacted_leave_the_schedule_with_the_reason(change, reason) -> None:
    plan = decide_at(make_account().with_changes(**change))
    assert (plan.job, plan.next_contact_at, plan.reason) == (None, None, reason)


def test_a_held_contact_says_which_rule_held_it() -> None:
    night = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
    plan = decide_at(make_account(), night)
    assert (plan.reason, plan.next_contact_at) == (NoContactReason.HELD, datetime(2026, 3, 8, 13, 0, tzinfo=UTC))
    assert any(line.startswith("email: inconvenient_time") for line in plan.why)


def test_the_fast_job_id_is_the_contracts_job_id() -> None:
    for slot in (NOW, datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC)):
        assert _job_id("acme#A-1", Stage.MID, slot) == job_id_for("acme#A-1", Stage.MID, slot)


def test_the_fast_plan_is_the_dataclasses_plan() -> None:
    job = decide_at(make_account()).job
    for fields in ((job, NOW, None, ("a", "b"), make_account(), 2), (None, None, NoContactReason.HELD, (), None, None)):
        fast, slow = _plan(*fields), ContactPlan(*fields)
        assert fast == slow and type(fast) is ContactPlan and repr(fast) == repr(slow)
        with pytest.raises(AttributeError):
            fast.tier = 3  # type: ignore[misc]  # still frozen


def test_the_senders_recheck_follows_the_template() -> None:
    paid = make_account().with_changes(status=AccountStatus.PAID)
    receipt = Job(
        job_id="r" * 32,
        account_id=paid.account_id,
        channel=Channel.EMAIL,
        template=Template.RECEIPT.value,
        variant="a",
        stage=Stage.MID,
        scheduled_for=NOW,
    )
    assert still_eligible(paid, receipt, NOW).reason is None  # a receipt is not collection
    on_plan = make_account().with_changes(plan=plan_with(*[InstallmentStatus.SCHEDULED] * 3))
    notice = receipt.model_copy(update={"template": Template.INSTALLMENT_DUE.value, "account_id": on_plan.account_id})
    assert still_eligible(on_plan, notice, NOW).reason is None
    reminder = notice.model_copy(update={"template": Template.REMINDER.value})
    assert (still_eligible(on_plan, reminder, NOW).reason or "").startswith("blocked: arrangement")


def test_a_debtor_who_answers_texts_and_not_emails_gets_a_text() -> None:
    counts = {"email:delivered": 6, "email:opened": 0, "sms:delivered": 4, "sms:clicked": 3}
    account = texting(make_account()).with_changes(engagement=counts)
    plan = decide_at(account)
    assert plan.job is not None and plan.job.channel is Channel.SMS
    assert "engagement: sms answers best" in plan.why
    # Consent still rules, and a stated preference beats what the counters suggest.
    no_consent = texting(make_account(), consent=False).with_changes(engagement=counts)
    assert decide_at(no_consent).job.channel is Channel.EMAIL
    prefers_email = account.with_changes(preferred_channel=Channel.EMAIL)
    assert decide_at(prefers_email).job.channel is Channel.EMAIL
    # Too few deliveries to judge a channel: the policy's order stands.
    early = texting(make_account()).with_changes(engagement={"sms:delivered": 1, "sms:clicked": 1})
    assert decide_at(early).job.channel is Channel.EMAIL


def test_the_next_contact_goes_at_the_hour_the_debtor_responds() -> None:
    plain = decide_at(make_account())
    assert plain.job is not None and plain.next_contact_at is not None
    # Responses on Wednesday evenings at 19:00 Chicago time (hour of week 2 * 24 + 19).
    learned = decide_at(make_account().with_changes(engagement={"how:67": 4, "email:opened": 4}))
    assert learned.next_contact_at is not None
    local = learned.next_contact_at.astimezone(ZoneInfo("America/Chicago"))
    assert (local.weekday(), local.hour) == (2, 19)
    assert plain.next_contact_at <= learned.next_contact_at < plain.next_contact_at + timedelta(hours=25)
    assert any(line.startswith("send time: Wed 19:00 local") for line in learned.why)
    # Two responses are not a pattern yet.
    assert decide_at(make_account().with_changes(engagement={"how:67": 2})).next_contact_at == plain.next_contact_at


def test_the_debtors_chosen_time_of_day_sets_the_next_contact() -> None:
    plain = decide_at(make_account())
    evening = decide_at(make_account().with_changes(preferred_time="evening"))
    local = evening.next_contact_at.astimezone(ZoneInfo("America/Chicago"))
    assert local.hour == 17 and local.minute == 0
    assert plain.next_contact_at <= evening.next_contact_at < plain.next_contact_at + timedelta(hours=24)
    assert "send time: the debtor's evening" in evening.why
    # A stated time beats the learned hour (Wednesday 19:00 here); an unknown choice changes nothing.
    both = decide_at(make_account().with_changes(preferred_time="morning", engagement={"how:67": 9}))
    assert both.next_contact_at.astimezone(ZoneInfo("America/Chicago")).hour == 8
    assert decide_at(make_account().with_changes(preferred_time="noonish")).next_contact_at == plain.next_contact_at


def test_an_open_settlement_offer_gets_one_notice_two_days_before_it_ends() -> None:
    expires = NOW + timedelta(days=4)  # Thursday 12 March; the notice is due Tuesday 10 March, 08:00 Chicago
    notice_at = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    offered = make_account().with_changes(settlement_minor=9_000, settlement_expires_at=expires)
    today = decide_at(offered)
    assert today.job is not None and today.job.template == "reminder"
    assert today.next_contact_at == notice_at  # looked at again in time, whatever the cadence says
    sent = (Contact(NOW, Channel.EMAIL),)
    then = decide_at(offered.with_changes(recent_contacts=sent), now=notice_at + timedelta(hours=2))
    assert then.job is not None and then.job.template == "settlement_expiring"
    assert "settlement offer ends soon" in then.why
    # Once it went out (or after the offer ended), reminders carry on as before.
    again = (*sent, Contact(notice_at + timedelta(hours=2), Channel.EMAIL))
    later = decide_at(offered.with_changes(recent_contacts=again), now=notice_at + timedelta(days=1))
    assert later.job is None or later.job.template == "reminder"
    after = decide_at(offered.with_changes(recent_contacts=sent), now=expires + timedelta(hours=1))
    assert after.job is None or after.job.template == "reminder"
