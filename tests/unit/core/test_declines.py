"""Decline codes to next steps: hard declines are never retried."""

import pytest

from functions.core.declines import NextStep, advise, is_hard


@pytest.mark.parametrize("code", ["stolen_card", "lost_card", "pickup_card", "fraudulent", "restricted_card"])
def test_hard_declines_are_never_retried_and_ask_for_another_card(code: str) -> None:
    advice = advise(code)
    assert advice.hard and not advice.retry and advice.next_step is NextStep.ANOTHER_CARD
    assert is_hard(code.upper())


@pytest.mark.parametrize(
    ("code", "step", "retry"),
    [
        ("insufficient_funds", NextStep.PLAN, True),
        ("do_not_honor", NextStep.CONTACT_BANK, False),
        ("generic_decline", NextStep.CONTACT_BANK, False),
        ("expired_card", NextStep.ANOTHER_CARD, False),
        ("incorrect_cvc", NextStep.CHECK_DETAILS, False),
        ("processing_error", NextStep.TRY_AGAIN, True),
        ("something_new", NextStep.CONTACT_BANK, False),
        (None, NextStep.CONTACT_BANK, False),
    ],
)
def test_next_steps(code: str | None, step: NextStep, retry: bool) -> None:
    advice = advise(code)
    assert (advice.next_step, advice.retry, advice.hard) == (step, retry, False)


def test_no_money_with_a_plan_running_suggests_a_promise_date() -> None:
    assert advise("insufficient_funds", plan_open=False).next_step is NextStep.PROMISE
