"""Given any string where a pay link token or a session token is expected, when it is read, then it is a
genuine token's claims or a refusal with a reason (malformed, bad_signature, expired): never another
exception. A genuine token with any character changed is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from functions.core import links, sessions
from tests.fuzz.budget import fuzz_settings

pytestmark = pytest.mark.fuzz

KEY = b"fuzz-link-signing-key-0123456789abcdef"
NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
REF = "abcdefghijklmnop1234"
LINK = links.sign(REF, NOW, KEY)
LINK_V1 = links.sign_v1(REF, NOW, KEY)
SESSION, _ = sessions.issue(REF, "es", NOW, KEY)
REASONS = {"malformed", "bad_signature", "expired"}

# Text that looks like a token: its alphabet, separators, look-alike digits, and anything at all.
TOKENISH = st.one_of(
    st.text(alphabet="0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-.=²٣\n é\x00", max_size=120),
    st.text(max_size=300),
    st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(["2", "v1.", "v2.", f"v1.{REF}.", f"2{REF}"]),
              st.text(max_size=80)),
)  # fmt: skip


@st.composite
def altered(draw: st.DrawFn, token: str) -> str:
    """The genuine token with one character replaced, inserted or removed."""
    at = draw(st.integers(0, len(token) - 1))
    edit = draw(st.sampled_from(["replace", "insert", "delete"]))
    char = draw(st.characters())
    if edit == "replace":
        changed = token[:at] + char + token[at + 1 :]
    elif edit == "insert":
        changed = token[:at] + char + token[at:]
    else:
        changed = token[:at] + token[at + 1 :]
    assume(changed != token)  # a character replaced by itself
    return changed


@st.composite
def session_like(draw: st.DrawFn) -> str:
    """Five dot-separated parts shaped like a session (v2.<ref>.<expiry>.<language>.<signature>), any of them odd."""
    parts = [sessions.VERSION, REF, "1773068400", "es", "x" * 43]
    for n in draw(st.sets(st.integers(0, 4), min_size=1)):
        parts[n] = draw(TOKENISH)
    return ".".join(parts)


def read_link(token: str) -> None:
    for read in (lambda t: links.read(t, NOW, KEY), lambda t: links.read_even_if_expired(t, KEY)):
        try:
            claims = read(token)
        except links.LinkError as exc:
            assert exc.reason in REASONS
        else:
            assert claims.link_ref == REF  # only a genuine token is read


def read_session(token: str) -> None:
    try:
        claims = sessions.read(token, NOW, KEY)
    except sessions.SessionError as exc:
        assert exc.reason in REASONS
    else:
        assert claims.link_ref == REF


@fuzz_settings(400)
@given(TOKENISH)
def test_any_text_is_a_link_or_refused(token: str) -> None:
    read_link(token)
    read_session(token)


@fuzz_settings(300)
@given(st.one_of(altered(LINK), altered(LINK_V1)))
def test_a_link_with_any_character_changed_is_refused(token: str) -> None:
    with pytest.raises(links.LinkError):
        links.read_even_if_expired(token, KEY)


@fuzz_settings(300)
@given(st.one_of(altered(SESSION), session_like()))
def test_a_session_with_any_part_changed_is_refused(token: str) -> None:
    with pytest.raises(sessions.SessionError):
        sessions.read(token, NOW, KEY)


def test_genuine_tokens_read() -> None:
    assert links.read(LINK, NOW, KEY).link_ref == REF
    assert links.read(LINK_V1, NOW, KEY).link_ref == REF
    assert sessions.read(SESSION, NOW + timedelta(minutes=1), KEY).language == "es"


# Found by the fuzzing above: non-ASCII in a session token (from an Authorization header) crashed the reader.
@pytest.mark.parametrize("token", [f"{sessions.VERSION}.{REF}.²³.en.sig", f"{sessions.VERSION}.{REF}.123.en.é"])
def test_a_session_token_with_non_ascii_characters_is_malformed(token: str) -> None:
    with pytest.raises(sessions.SessionError, match="malformed"):
        sessions.read(token, NOW, KEY)
