"""Sessions: short-lived, bound to the link, never interchangeable with a pay link."""

from datetime import UTC, datetime, timedelta

import pytest

from functions.core import links, sessions

KEY = b"k" * 32
NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
REF = "abcdefghijklmnop1234"


def test_a_session_reads_back_its_link_and_language_until_it_expires() -> None:
    token, expires_at = sessions.issue(REF, "es", NOW, KEY)

    claims = sessions.read(token, NOW + timedelta(minutes=14, seconds=59), KEY)

    assert (claims.link_ref, claims.language, claims.expires_at) == (REF, "es", expires_at)
    assert expires_at == NOW + timedelta(minutes=15)
    with pytest.raises(sessions.SessionError, match="expired"):
        sessions.read(token, NOW + timedelta(minutes=15), KEY)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace(REF, "zzzzzzzzzzzzzzzz1234"),
        lambda t: t.replace(".es.", ".en."),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
    ],
)
def test_a_tampered_session_is_refused(tamper) -> None:
    token, _ = sessions.issue(REF, "es", NOW, KEY)

    with pytest.raises(sessions.SessionError, match="bad_signature"):
        sessions.read(tamper(token), NOW, KEY)


def test_a_pay_link_is_not_a_session_and_a_session_is_not_a_pay_link() -> None:
    link = links.sign_v1(REF, NOW, KEY)  # the dotted format a session could be forged from (compact: test_links)
    session, _ = sessions.issue(REF, "en", NOW, KEY)
    forged = "s1." + ".".join(link.split(".")[1:3]) + ".en." + link.split(".")[3]

    with pytest.raises(sessions.SessionError):
        sessions.read(link, NOW, KEY)
    with pytest.raises(sessions.SessionError, match="bad_signature"):
        sessions.read(forged, NOW, KEY)
    with pytest.raises(links.LinkError):
        links.read(session, NOW, KEY)


def test_another_key_does_not_verify() -> None:
    token, _ = sessions.issue(REF, "en", NOW, KEY)

    with pytest.raises(sessions.SessionError, match="bad_signature"):
        sessions.read(token, NOW, b"x" * 32)


@pytest.mark.parametrize("junk", ["", "s1", "s1.a.b.c.d", "v1.abcdefghijklmnop.1.sig", "x" * 300])
def test_junk_is_malformed(junk: str) -> None:
    with pytest.raises(sessions.SessionError, match="malformed"):
        sessions.read(junk, NOW, KEY)
