"""Localisation of what messages show: the template language, amounts and dates, with Babel.

Templates exist in a few languages (`TEMPLATE_LANGUAGES`); any other language falls back to English
text, while amounts and dates are still shown in the debtor's own locale when Babel knows it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency

from functions.core.money import Money

TEMPLATE_LANGUAGES = ("en", "es")
FALLBACK_LANGUAGE = "en"


def template_language(language: str | None) -> str:
    """The language a message is written in: the debtor's if we have templates for it, else English."""
    primary = (language or "").replace("_", "-").split("-")[0].lower()
    return primary if primary in TEMPLATE_LANGUAGES else FALLBACK_LANGUAGE


@lru_cache(maxsize=64)
def locale_for(language: str | None) -> Locale:
    """The Babel locale for a language tag ("es", "es-MX", "en_GB"); English when unknown."""
    tag = (language or "").replace("-", "_")
    try:
        return Locale.parse(tag) if tag else Locale.parse(FALLBACK_LANGUAGE)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FALLBACK_LANGUAGE)


def money(amount: Money, language: str | None) -> str:
    """`amount` in the language's currency format, with the currency's own minor digits (JPY 0, KWD 3)."""
    return format_currency(Decimal(amount.to_decimal_string()), amount.currency, locale=locale_for(language))


def day(value: date, language: str | None) -> str:
    """A date written out in the language ("March 8, 2026", "8 de marzo de 2026")."""
    return format_date(value, format="long", locale=locale_for(language))
