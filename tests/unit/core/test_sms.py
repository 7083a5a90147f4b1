"""GSM-7 and UCS-2 lengths and segment counts, as carriers count them."""

import pytest

from functions.core.sms import Encoding, encoding_of, fits_one_segment, measure


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", Encoding.GSM7, 0, 0),
        ("a" * 160, Encoding.GSM7, 160, 1),
        ("a" * 161, Encoding.GSM7, 161, 2),
        ("a" * 306, Encoding.GSM7, 306, 2),
        ("a" * 307, Encoding.GSM7, 307, 3),
        ("€" * 80, Encoding.GSM7, 160, 1),  # extension characters take an escape each
        ("€" * 81, Encoding.GSM7, 162, 2),
        ("Ñoño à Zürich: £5 @ 10%", Encoding.GSM7, 23, 1),
        ("Ñandú", Encoding.UCS2, 5, 1),
        ("a" * 70 + "ç", Encoding.UCS2, 71, 2),  # ç is not GSM-7 (only Ç is)
        ("é" * 70, Encoding.GSM7, 70, 1),
        ("李" * 70, Encoding.UCS2, 70, 1),
        ("李" * 71, Encoding.UCS2, 71, 2),
        ("李" * 134, Encoding.UCS2, 134, 2),
        ("李" * 135, Encoding.UCS2, 135, 3),
        ("😀" * 35, Encoding.UCS2, 70, 1),  # outside the BMP: two UTF-16 units
        ("a\u00a0b", Encoding.UCS2, 3, 1),  # a no-break space is not GSM-7
    ],
)
def test_length_and_segments(text: str, encoding: Encoding, units: int, segments: int) -> None:
    assert measure(text) == (measure(text).__class__(encoding, units, segments))
    assert encoding_of(text) is encoding


def test_an_escape_pair_is_never_split_across_parts() -> None:
    # 152 plain septets then "€": 154 septets, two parts; the escape pair does not fit part one's last cell.
    text = "a" * 152 + "€" + "a" * 152
    length = measure(text)
    assert length.units == 306 and length.segments == 3


def test_a_surrogate_pair_is_never_split_across_parts() -> None:
    text = "李" * 66 + "😀" + "李" * 66  # 134 units, but the emoji cannot straddle parts one and two
    assert measure(text).units == 134 and measure(text).segments == 3


def test_fits_one_segment() -> None:
    assert fits_one_segment("Reply STOP to opt out") and not fits_one_segment("x" * 161)
