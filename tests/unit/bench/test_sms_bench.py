"""`python -m bench.sms` renders every texted kind (it once broke silently on a new email-only kind)."""

from __future__ import annotations

from bench.sms import CASES, DEFAULT_CREDITOR, DEFAULT_PORTAL, LANGUAGES, SMS_KINDS, measure_all
from functions.core.jobs import Template


def test_every_texted_kind_renders_and_first_party_texts_fit_one_segment() -> None:
    results = {
        (kind, language, case): message
        for kind, language, case, message in measure_all(DEFAULT_CREDITOR, DEFAULT_PORTAL)
    }

    assert len(results) == len(SMS_KINDS) * len(LANGUAGES) * len(CASES)
    assert Template.REMINDER in SMS_KINDS and Template.DISPUTE_VERIFICATION not in SMS_KINDS
    first_party = [message for (_, _, case), message in results.items() if case == "first_party"]
    assert first_party and all(message.length.segments == 1 for message in first_party)
