"""Template language fallback and Babel formatting of money and dates."""

from datetime import date

import pytest

from functions.core.i18n import day, money, template_language
from functions.core.money import Money


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "en"), ("es", "es"), ("es-MX", "es"), ("ES_us", "es"), ("fr", "en"), ("", "en"), (None, "en")],
)
def test_template_language_falls_back_to_english(language: str | None, expected: str) -> None:
    assert template_language(language) == expected


@pytest.mark.parametrize(
    ("amount", "language", "expected"),
    [
        (Money(123_456, "USD"), "en", "$1,234.56"),
        (Money(123_456, "USD"), "es", "1.234,56\u00a0US$"),
        (Money(150_000, "JPY"), "en", "¥150,000"),
        (Money(1_234_567, "KWD"), "en", "KWD1,234.567"),
        (Money(0, "USD"), "en", "$0.00"),
        (Money(5, "USD"), "xx-invalid", "$0.05"),
    ],
)
def test_money_uses_the_currency_digits_and_the_locale(amount: Money, language: str, expected: str) -> None:
    assert money(amount, language) == expected


def test_dates_are_written_out_in_the_language() -> None:
    assert day(date(2026, 3, 8), "en") == "March 8, 2026"
    assert day(date(2026, 3, 8), "es") == "8 de marzo de 2026"
