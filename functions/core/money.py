"""Money as integer minor units plus an ISO 4217 currency code. No floats anywhere.

The minor-unit exponent is the ISO 4217 one (JPY 0, USD 2, KWD 3), which is also what payment
processors charge in; display formatting (CLDR digits, symbols) is a presentation concern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

# ISO 4217 active codes whose minor-unit exponent is not 2.
_EXPONENT_EXCEPTIONS: dict[str, int] = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(),
        0,
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}

# ISO 4217 active codes (list one, 2024 edition), fund and precious-metal codes excluded.
ISO_4217_CODES: frozenset[str] = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD
    KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO
    NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS
    SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYI UYU UYW UZS VED VES VND
    VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG""".split()
)

_AMOUNT_RE = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d*)?$|^[+-]?\.\d+$")


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


def currency_exponent(currency: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, KWD 3)."""
    return _EXPONENT_EXCEPTIONS.get(normalize_currency(currency), 2)


def normalize_currency(currency: str) -> str:
    """Upper-case an ISO 4217 code and check it is an active one."""
    code = (currency or "").strip().upper()
    if code not in ISO_4217_CODES:
        raise MoneyError(f"unknown currency code {currency!r} (expected an ISO 4217 code such as USD)")
    return code


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: integer minor units of one currency."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise MoneyError(f"minor units must be an int, got {type(self.minor).__name__}")
        if self.currency not in ISO_4217_CODES:  # already canonical: the common case, kept cheap
            object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a decimal string ("1234.5", "1,234.56", "-3") exactly into minor units.

        More fractional digits than the currency has (e.g. "1.234" USD, "5.5" JPY) is an error,
        never a silent rounding.
        """
        raw = (text or "").strip()
        if not _AMOUNT_RE.match(raw):
            raise MoneyError(f"{text!r} is not an amount (expected digits like 1234.56 or 1,234.56)")
        exponent = currency_exponent(currency)
        with localcontext() as context:
            context.prec = len(raw) + exponent + 2  # exact: never Decimal's default 28-digit rounding
            try:
                value = Decimal(raw.replace(",", ""))
            except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
                raise MoneyError(f"{text!r} is not an amount") from exc
            scaled = value.scaleb(exponent)
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"{text!r} has more than {exponent} decimal places for {currency.upper()}")
        return cls(int(scaled), currency)

    def _same_currency(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.minor <= other.minor

    @property
    def is_positive(self) -> bool:
        return self.minor > 0

    def to_decimal_string(self) -> str:
        """The exact amount as a plain decimal string, e.g. "1234.50" USD, "1234" JPY."""
        exponent = currency_exponent(self.currency)
        sign = "-" if self.minor < 0 else ""
        digits = str(abs(self.minor)).rjust(exponent + 1, "0")
        if exponent == 0:
            return f"{sign}{digits}"
        return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"

    def display(self) -> str:
        """Language-neutral display with grouping: "USD 1,234.50". Localised display comes with Babel."""
        whole, _, fraction = self.to_decimal_string().lstrip("-").partition(".")
        sign = "-" if self.minor < 0 else ""
        grouped = f"{int(whole):,}"
        return f"{self.currency} {sign}{grouped}{'.' + fraction if fraction else ''}"

    def __str__(self) -> str:
        return self.display()


def total(amounts: list[Money], currency: str) -> Money:
    """Sum amounts of one currency; an empty list is zero."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
