"""SMS length: GSM-7 (basic set + extension table, escapes count twice) or UCS-2, and segment count.

A message that fits the GSM 03.38 alphabet is sent in 7-bit cells: 160 per single message, 153 per
part of a concatenated one (the UDH takes the rest); an extension character (€, [, ], {, }, ...)
takes an escape plus itself. Any other character turns the whole message into UCS-2: 70 per
message, 67 per part, counted in UTF-16 code units (an emoji takes two).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SINGLE = {"gsm7": 160, "ucs2": 70}
PART = {"gsm7": 153, "ucs2": 67}


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True, slots=True)
class SmsLength:
    encoding: Encoding
    units: int  # GSM-7 septets or UTF-16 code units
    segments: int

    @property
    def single_segment(self) -> bool:
        return self.segments == 1


def encoding_of(text: str) -> Encoding:
    """GSM-7 if every character is in the basic set or the extension table, else UCS-2."""
    for char in text:
        if char not in GSM7_BASIC and char not in GSM7_EXTENSION:
            return Encoding.UCS2
    return Encoding.GSM7


def measure(text: str) -> SmsLength:
    """Encoding, length in encoding units and number of segments (0 for an empty text)."""
    encoding = encoding_of(text)
    if encoding is Encoding.GSM7:
        units = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
    else:
        units = len(text.encode("utf-16-le")) // 2
    if units == 0:
        return SmsLength(encoding, 0, 0)
    if units <= SINGLE[encoding.value]:
        return SmsLength(encoding, units, 1)
    return SmsLength(encoding, units, _parts(text, encoding))


def _parts(text: str, encoding: Encoding) -> int:
    """Parts of a concatenated message: an escape pair (GSM-7) or a surrogate pair (UCS-2) is never split."""
    per_part = PART[encoding.value]
    parts, used = 1, 0
    for char in text:
        size = (2 if char in GSM7_EXTENSION else 1) if encoding is Encoding.GSM7 else len(char.encode("utf-16-le")) // 2
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts


def fits_one_segment(text: str) -> bool:
    return measure(text).segments <= 1
