"""The MIME the sender hands SES, read back as a mail client reads it."""

from __future__ import annotations

import email
import email.policy

import pytest

from functions.core.messages import EmailMessage
from functions.sender.service import mime_message

UNSUBSCRIBE = "<https://pay.example.com/u/" + "x" * 300 + ">, <mailto:help@lender.example?subject=unsubscribe>"


def _message(
    subject: str = "Recordatorio: su saldo de US$1.234,56 con Ñandú Financiera (cuenta ••••0042)",
) -> EmailMessage:
    return EmailMessage(
        subject=subject,
        text="Hola José,\nPague aquí: https://pay.example.com/p/abc#t=2abc_DEF-123.x\n",
        html="<p>Hola José</p><p><a href='https://pay.example.com/p/abc#t=2abc_DEF-123.x'>Pagar</a></p>",
        headers={"List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        language="es",
    )


def test_a_non_ascii_message_reads_back_exactly_as_rendered() -> None:
    raw = mime_message(_message(), "=?utf-8?b?w5FhbmTDuiBGaW5hbmNpZXJh?= <billing@lender.example>", "jose@example.com")

    read = email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)

    assert read["Subject"] == _message().subject
    assert read["From"] == "Ñandú Financiera <billing@lender.example>"
    assert read["To"] == "jose@example.com"
    assert read.get_content_type() == "multipart/alternative"
    plain, html = (part.get_content().replace("\r\n", "\n") for part in read.iter_parts())
    assert (plain, html) == (_message().text, _message().html + "\n")
    assert raw.as_bytes().count(b"MIME-Version") == 1


def test_the_one_click_unsubscribe_headers_stay_one_unfolded_line() -> None:
    raw = mime_message(_message(), "billing@lender.example", "jose@example.com").as_bytes()

    assert f"\r\nList-Unsubscribe: {UNSUBSCRIBE}\r\n".encode() in raw  # RFC 8058: a URL a client can read
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


@pytest.mark.parametrize("subject", ["Pay now\r\nBcc: everyone@example.com", "Pay now\nBcc: x@example.com"])
def test_a_header_with_a_line_break_is_refused_rather_than_injected(subject: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        mime_message(_message(subject), "billing@lender.example", "jose@example.com")
