"""The lender's outreach policy: defaults that ship, what a policy file may say, and what is refused."""

from __future__ import annotations

import json
from datetime import time, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from functions.core.account import Channel, Stage
from functions.core.jobs import Tone
from functions.core.lender import LenderProfile
from functions.core.policy import OutreachPolicy, restrict_channels

SAMPLE = Path(__file__).parents[3] / "local" / "sample_lender.json"


def profile(**outreach: object) -> LenderProfile:
    return LenderProfile.model_validate({"lender_id": "acme", "creditor_name": "Acme", "outreach": outreach})


def test_the_defaults_are_the_issues_stages_window_and_caps() -> None:
    rules = LenderProfile(lender_id="acme", creditor_name="Acme").rules()
    assert [(b.stage, b.first_dpd, b.last_dpd) for b in rules.bounds] == [
        (Stage.PRE_DUE, -5, -3),
        (Stage.EARLY, 1, 15),
        (Stage.MID, 16, 30),
        (Stage.LATE, 31, 60),
        (Stage.ADVANCED, 61, None),
    ]
    assert (rules.window_start, rules.window_end) == (time(8), time(21))
    assert rules.caps == {Channel.EMAIL: 3, Channel.SMS: 3} and rules.cap_all_channels == 5
    assert rules.cap_period == timedelta(days=7) and rules.pause_after_conversation == timedelta(days=7)
    assert rules.stages[Stage.PRE_DUE].channels == (Channel.EMAIL,)
    assert [rules.stages[s].tone for s in (Stage.EARLY, Stage.MID, Stage.LATE)] == [
        Tone.FRIENDLY,
        Tone.NEUTRAL,
        Tone.FIRM,
    ]
    assert OutreachPolicy().caps.call == 7  # Reg F 7-in-7 for calls


def test_cadence_days_stays_the_fallback_of_every_stage_and_tier_without_its_own() -> None:
    rules = LenderProfile(lender_id="acme", creditor_name="Acme", cadence_days=4).rules()
    assert rules.cadence(Stage.MID, 2) == timedelta(days=4)
    assert rules.cadence(Stage.MID, 4) == timedelta(days=7)  # the low-balance tier's own cadence
    staged = profile(stages=[{"stage": "early", "first_dpd": 1, "last_dpd": 30, "cadence_days": 2}]).rules()
    assert staged.cadence(Stage.EARLY, 2) == timedelta(days=2)
    assert [b.stage for b in staged.bounds] == [Stage.EARLY]


def test_a_policy_round_trips_through_json_as_the_lenders_table_stores_it() -> None:
    original = profile(tiers={"1": {"channel_order": ["email"], "tone": "neutral"}}, window={"start": "09:00"})
    again = LenderProfile.model_validate(json.loads(original.model_dump_json()))
    assert again == original
    assert again.outreach.tiers[1].channel_order == (Channel.EMAIL,)
    assert again.outreach.tiers[4].cadence_days == 7  # tiers left out keep their defaults


def test_the_sample_lenders_policy_is_valid_and_uses_the_outreach_section() -> None:
    sample = LenderProfile.model_validate(json.loads(SAMPLE.read_text()))
    assert sample.outreach != OutreachPolicy()  # it shows the format, not just the defaults
    sample.rules()


@pytest.mark.parametrize(
    ("outreach", "message"),
    [
        ({"window": {"start": "07:30"}}, "08:00-21:00"),
        ({"window": {"end": "21:30"}}, "08:00-21:00"),
        ({"window": {"start": "12:00", "end": "11:00"}}, "end after it starts"),
        (
            {"stages": [{"stage": "early", "first_dpd": 1, "last_dpd": 20}, {"stage": "mid", "first_dpd": 16}]},
            "overlap",
        ),
        ({"stages": [{"stage": "none", "first_dpd": 1}]}, "gap between stages"),
        ({"stages": [{"stage": "early", "first_dpd": 10, "last_dpd": 5}]}, "before first_dpd"),
        ({"stages": [{"stage": "early", "first_dpd": 1, "channels": []}]}, "non-empty"),
        ({"stages": [{"stage": "early", "first_dpd": 1, "channels": ["fax"]}]}, "channels"),
        ({"tiers": {"5": {"channel_order": ["email"]}}}, "tiers are 1 to 4"),
        ({"caps": {"email": 9}}, "less than or equal to 7"),
        ({"segmentation": {"low_balance_minor": 200000}}, "below high_balance_minor"),
        ({"cadence": 3}, "Extra inputs are not permitted"),
    ],
)
def test_an_invalid_policy_is_refused_with_the_reason(outreach: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        profile(**outreach)


def test_without_an_sms_queue_the_rules_keep_only_email() -> None:
    rules = restrict_channels(LenderProfile(lender_id="acme", creditor_name="Acme").rules(), frozenset({Channel.EMAIL}))
    assert all(stage.channels == (Channel.EMAIL,) for stage in rules.stages.values())
    assert rules.channel_order(Stage.MID, 1) == (Channel.EMAIL,)


def test_the_documented_example_is_a_valid_policy_equal_to_the_sample() -> None:
    import yaml

    text = (SAMPLE.parents[1] / "docs" / "policy.md").read_text()
    example = yaml.safe_load(text.split("```yaml\n", 1)[1].split("```", 1)[0])
    documented = LenderProfile.model_validate(example)
    sample = LenderProfile.model_validate(json.loads(SAMPLE.read_text()))
    assert documented.outreach == sample.outreach
