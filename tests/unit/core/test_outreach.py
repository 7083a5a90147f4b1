from datetime import UTC, date, datetime, timedelta

from functions.core.account import AccountStatus, Channel, Contact, Debtor, Stage
from functions.core.jobs import job_id_for
from functions.core.outreach import NoContactReason, first_contact_at, plan_contact, still_eligible
from tests.events.factories import make_account

NOW = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # 09:00 in Chicago (CDT since that morning)


def test_a_past_due_account_is_due_at_once() -> None:
    assert first_contact_at(make_account(due=date(2026, 2, 20)), NOW) == NOW


def test_an_account_far_from_due_waits_for_the_pre_due_window_at_nine_local() -> None:
    account = make_account(due=date(2026, 4, 1), timezone="America/Los_Angeles")
    # Pre-due opens 5 days before: 2026-03-27 09:00 PDT = 16:00 UTC.
    assert first_contact_at(account, NOW) == datetime(2026, 3, 27, 16, 0, tzinfo=UTC)


def test_nothing_is_scheduled_for_an_account_with_nothing_owed() -> None:
    assert first_contact_at(make_account(principal=0, interest=0, fees=0), NOW) is None


def test_plan_for_a_due_account_is_one_email_job_and_the_next_contact_on_cadence() -> None:
    account = make_account(due=date(2026, 2, 20)).with_changes(next_contact_at=NOW - timedelta(minutes=10))
    plan = plan_contact(account, NOW, cadence_days=3)
    assert plan.job is not None
    assert plan.job.channel is Channel.EMAIL
    assert plan.job.stage is Stage.MID  # 16 days past due
    assert plan.job.scheduled_for == NOW
    assert plan.job.job_id == job_id_for(account.account_id, Stage.MID, account.next_contact_at)
    assert plan.next_contact_at == NOW + timedelta(days=3)


def test_the_same_due_instance_always_gets_the_same_job_id() -> None:
    account = make_account().with_changes(next_contact_at=NOW)
    first = plan_contact(account, NOW, 3).job
    rerun = plan_contact(account, NOW + timedelta(minutes=15), 3).job
    assert first is not None and rerun is not None
    assert first.job_id == rerun.job_id


def test_accounts_that_cannot_be_contacted_leave_the_due_index_with_a_reason() -> None:
    paid = plan_contact(make_account().with_changes(status=AccountStatus.PAID), NOW, 3)
    assert (paid.job, paid.next_contact_at, paid.reason) == (None, None, NoContactReason.NOT_COLLECTIBLE)
    phone_only = plan_contact(make_account(email=None), NOW, 3)
    assert (phone_only.job, phone_only.next_contact_at, phone_only.reason) == (
        None,
        None,
        NoContactReason.NO_USABLE_CHANNEL,
    )


def test_between_windows_the_account_waits_for_the_next_one() -> None:
    due_tomorrow = make_account(due=date(2026, 3, 9))  # DPD -1: pre-due window closed, early not yet open
    plan = plan_contact(due_tomorrow, NOW, 3)
    assert plan.job is None
    assert plan.reason == NoContactReason.NO_STAGE_OPEN
    assert plan.next_contact_at == datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # 09:00 CDT on DPD 1


def test_sender_recheck_catches_what_changed_since_scheduling() -> None:
    job = plan_contact(make_account(), NOW, 3).job
    assert job is not None
    assert still_eligible(make_account(), job, NOW).reason is None
    assert still_eligible(make_account().with_changes(status=AccountStatus.PAID), job, NOW).reason == "not_collectible"
    assert still_eligible(make_account(email=None), job, NOW).reason == "no_usable_channel"


def test_a_job_that_arrives_at_night_is_held_until_the_morning() -> None:
    job = plan_contact(make_account(), NOW, 3).job
    assert job is not None
    late = datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # 23:00 in Chicago
    recheck = still_eligible(make_account(), job, late)
    assert recheck.reason is not None and recheck.reason.startswith("held")
    assert recheck.retry_at == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # 08:00 CDT


def test_the_scheduler_holds_contacts_outside_the_window_and_over_the_cap() -> None:
    night = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 in Chicago
    plan = plan_contact(make_account(), night, 3)
    assert (plan.job, plan.reason, plan.next_contact_at) == (None, "held", datetime(2026, 3, 8, 13, 0, tzinfo=UTC))
    busy = make_account().with_changes(
        recent_contacts=tuple(Contact(NOW - timedelta(days=d), Channel.EMAIL) for d in (1, 2, 3))
    )
    capped = plan_contact(busy, NOW, 3)
    assert capped.job is None and capped.next_contact_at == NOW - timedelta(days=3) + timedelta(days=7)


def test_an_account_no_moment_suits_leaves_the_schedule_with_the_reason() -> None:
    account = make_account()
    debtor = account.debtor
    spread = ("America/Los_Angeles", "Europe/London", "Asia/Shanghai")
    plan = plan_contact(
        account.with_changes(debtor=Debtor(debtor.name, debtor.email, None, spread[0], "en", spread)), NOW, 3
    )
    assert plan.job is None and plan.next_contact_at is None
    assert plan.reason is not None and plan.reason.startswith("blocked: inconvenient_time")
