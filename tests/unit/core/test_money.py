from decimal import Decimal

import pytest

from functions.core.money import Money, MoneyError, currency_exponent, total


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1234.56", "USD", 123456),
        ("1,234.56", "USD", 123456),
        ("1234.5", "USD", 123450),
        ("0.1", "usd", 10),
        ("-3", "USD", -300),
        (".5", "EUR", 50),
        ("1234", "JPY", 1234),
        ("1,000,000", "JPY", 1000000),
        ("1.234", "KWD", 1234),
        ("12.3400", "USD", 1234),  # trailing zeros are exact
    ],
)
def test_parses_decimal_strings_exactly_into_minor_units(text: str, currency: str, minor: int) -> None:
    assert Money.parse(text, currency) == Money(minor, currency.upper())


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("1.234", "USD"),
        ("5.5", "JPY"),
        ("1.2345", "KWD"),
        ("12,34.00", "USD"),
        ("1e3", "USD"),
        ("", "USD"),
        ("abc", "USD"),
        ("1.2.3", "USD"),
        ("NaN", "USD"),
        ("$5", "USD"),
    ],
)
def test_refuses_amounts_it_cannot_represent_exactly(text: str, currency: str) -> None:
    with pytest.raises(MoneyError):
        Money.parse(text, currency)


def test_exponents_follow_iso_4217() -> None:
    assert [currency_exponent(code) for code in ("USD", "JPY", "KWD", "EUR", "CLF")] == [2, 0, 3, 2, 4]


def test_unknown_currency_and_non_integer_minor_units_are_errors() -> None:
    with pytest.raises(MoneyError, match="unknown currency"):
        Money(100, "XYZ")
    with pytest.raises(MoneyError, match="must be an int"):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="must be an int"):
        Money(Decimal("1"), "USD")  # type: ignore[arg-type]


def test_arithmetic_stays_in_one_currency() -> None:
    assert Money(150, "USD") + Money(50, "USD") - Money(25, "USD") == Money(175, "USD")
    assert total([Money(1, "JPY"), Money(2, "JPY")], "JPY") == Money(3, "JPY")
    assert total([], "EUR") == Money(0, "EUR")
    with pytest.raises(MoneyError, match="cannot combine USD with EUR"):
        _ = Money(1, "USD") + Money(1, "EUR")
    assert Money(1, "USD") < Money(2, "USD")


@pytest.mark.parametrize(
    ("money", "plain", "shown"),
    [
        (Money(123456, "USD"), "1234.56", "USD 1,234.56"),
        (Money(5, "USD"), "0.05", "USD 0.05"),
        (Money(-250, "USD"), "-2.50", "USD -2.50"),
        (Money(1234567, "JPY"), "1234567", "JPY 1,234,567"),
        (Money(1, "KWD"), "0.001", "KWD 0.001"),
    ],
)
def test_renders_exactly(money: Money, plain: str, shown: str) -> None:
    assert money.to_decimal_string() == plain
    assert money.display() == shown
    assert Money.parse(plain, money.currency) == money


def test_very_long_amounts_stay_exact() -> None:
    digits = "123456789012345678901234567890123"  # beyond Decimal's default 28-digit precision
    assert Money.parse(f"{digits}.45", "USD").minor == int(f"{digits}45")
